"""Window tiling: exact cover with the coarsest buckets, and the window rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.analytics import windows
from spendwarden.clock import to_us
from spendwarden.errors import ValidationFailed

NOW = datetime(2026, 11, 23, 12, 34, 56, tzinfo=UTC)


@given(st.integers(0, 200_000), st.integers(1, 200_000), st.sampled_from(["m", "h", "d"]))
def test_segments_tile_the_window_exactly(start_min: int, length_min: int, coarsest: str) -> None:
    lo = to_us(datetime(2026, 1, 1, tzinfo=UTC)) + start_min * 60_000_000
    w = windows.Window(lo, lo + length_min * 60_000_000)
    segs = windows.segments(w, coarsest)
    assert segs[0][1] == w.start_us and segs[-1][2] == w.end_us
    assert all(a[2] == b[1] for a, b in itertools.pairwise(segs))
    sizes = {"m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
    for g, a, b in segs:
        assert a % sizes[g] == 0 and b % sizes[g] == 0 and a < b
        assert "mhd".index(g) <= "mhd".index(coarsest)
    assert len(segs) <= 5


def test_relative_windows() -> None:
    day = windows.resolve(NOW, "24h", None, None)
    assert day.public() == {"from": "2026-11-22T12:35:00Z", "to": "2026-11-23T12:35:00Z"}
    month = windows.resolve(NOW, "30d", None, None)
    assert month.public()["from"] == "2026-10-24T12:00:00Z"
    assert windows.resolve(NOW, "mtd", None, None).public()["from"] == "2026-11-01T00:00:00Z"


def test_offsets_are_the_same_instant_and_minutes_are_required() -> None:
    plus_one = datetime(2026, 11, 1, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert windows.explicit(plus_one, plus_one + timedelta(hours=1)) == windows.explicit(
        datetime(2026, 11, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, 2, tzinfo=UTC)
    )
    with pytest.raises(ValidationFailed):
        windows.explicit(NOW, NOW + timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        windows.resolve(NOW, "1h", NOW, None)


def _coverage(blocks: list[windows.Block]) -> list[tuple[int, int, int]]:
    """The net coefficient on each stretch of time between block edges."""
    edges: dict[int, int] = {}
    for _level, lo, hi, coef in blocks:
        edges[lo] = edges.get(lo, 0) + coef
        edges[hi] = edges.get(hi, 0) - coef
    out, cur, points = [], 0, sorted(edges)
    for a, b in itertools.pairwise(points):
        cur += edges[a]
        out.append((a, b, cur))
    return out


@given(
    st.integers(0, 400 * 1440),
    st.integers(1, 200 * 1440),
    st.one_of(st.none(), st.integers(0, 2 * 1440)),
    st.booleans(),
)
def test_fleet_blocks_weigh_exactly_the_window(
    start_min: int, length_min: int, slack: int | None, hour: bool
) -> None:
    lo = to_us(datetime(2026, 1, 1, tzinfo=UTC)) + start_min * 60_000_000
    if hour:
        lo -= lo % 3_600_000_000
    w = windows.Window(lo, lo + length_min * 60_000_000)
    oldest = None if slack is None else lo - slack * 60_000_000
    blocks = windows.fleet_blocks(w, oldest)
    sizes = dict(windows.LEVELS)
    for level, a, b, coef in blocks:
        assert a % sizes[level] == 0 and b % sizes[level] == 0 and a < b and coef != 0
        if level == "m" and oldest is not None:
            assert a >= oldest  # never a minute bucket retention has dropped
    for a, b, coef in _coverage(blocks):
        inside = w.start_us <= a and b <= w.end_us
        assert inside or b <= w.start_us or a >= w.end_us  # no stretch straddles an edge
        assert coef == (1 if inside else 0)
    assert sum(1 for level, *_ in blocks if level != "m") <= 14


def test_fleet_blocks_of_the_relative_windows_are_few() -> None:
    for name, most in (("24h", 3), ("7d", 5), ("30d", 7)):
        blocks = windows.fleet_blocks(windows.resolve(NOW, name, None, None))
        assert sum(1 for level, *_ in blocks if level != "m") <= most, (name, blocks)
