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
