"""Query windows and how they are tiled by rollup buckets.

A window is ``[from, to)`` in epoch microseconds UTC, aligned to the minute. Relative
windows (``15m``, ``1h``, ``24h``, ``7d``, ``30d``) end at the end of the current minute,
so a spend recorded just now is inside; ``7d`` and ``30d`` start at the top of the hour
(their start lies beyond minute retention); ``mtd`` starts at the first of the month (UTC).
Explicit ``from``/``to`` may carry any UTC offset; they are converted to UTC first, so a
window given as ``01:00+01:00`` is the same as ``00:00Z`` (there is no DST anywhere here).

``fleet_blocks`` covers a window for fleet-wide totals with *signed* blocks of every fleet
level (minute, hour, 4 h, 12 h, day, 2 … 64 days; each size divides the next and blocks
are aligned to multiples of their size since the epoch): the window is ``P(to) - P(from)``
where ``P`` is "everything before", and each edge is walked up the levels rounding down or
up, whichever leaves the fewest blocks (a small dynamic programme over both edges). A 30-day
window costs ~8 blocks instead of ~53 hours and days; each block is read for every key of a
dimension, so this is what keeps a fleet summary over 1,000 agents and 2,000 users cheap.
Minute blocks weigh little (they are sparse) and are never taken from before minute
retention.

``segments`` tiles a window *exactly* with the coarsest buckets that fit: whole days in
the middle, whole hours at the ragged ends, minutes at the minute edges. Totals are
therefore exact while the number of buckets read is at most ~2·59 + 2·23 + days, whatever
the number of raw events. Minute rollups are pruned after ``minute_retention`` days; a
window whose minute edges are older than that must be aligned to the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from spendwarden.analytics.rollup import DAY_US, HOUR_US, MINUTE_US, SIZES
from spendwarden.clock import from_us, iso, to_us, utc
from spendwarden.db import queries_analytics as qa
from spendwarden.errors import ValidationFailed

RELATIVE = {
    "15m": 15 * MINUTE_US,
    "1h": HOUR_US,
    "24h": 24 * HOUR_US,
    "7d": 7 * DAY_US,
    "30d": 30 * DAY_US,
}
WINDOW_NAMES = (*RELATIVE, "mtd")
ORDER = ("m", "h", "d")
BUCKETS = {"minute": "m", "hour": "h", "day": "d"}

Segment = tuple[str, int, int]
# (level, start, end, coefficient): the level's buckets in [start, end), each added ``coefficient`` times
Block = tuple[str, int, int, int]
LEVELS = tuple(sorted({**qa.BUCKET_SIZES, **qa.SPAN_SIZES}.items(), key=lambda i: i[1]))
MINUTE_WEIGHT = 1 / 40  # a minute bucket holds a few keys; a coarser one holds every active key


@dataclass(frozen=True)
class Window:
    start_us: int
    end_us: int

    def public(self) -> dict[str, str | None]:
        return {"from": iso(self.start_us), "to": iso(self.end_us)}


def month_start(at: datetime) -> datetime:
    return utc(at).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def minute_end(now_us: int) -> int:
    """End of the minute containing ``now``: relative windows include the current minute."""
    return now_us - now_us % MINUTE_US + MINUTE_US


def resolve(now: datetime, window: str | None, start: datetime | None, end: datetime | None) -> Window:
    """The window a request names: ``window=`` or explicit ``from``/``to`` (not both)."""
    if start is not None or end is not None:
        if window is not None:
            raise ValidationFailed("Give either window or from/to, not both.", window=window)
        if start is None or end is None:
            raise ValidationFailed("Give both from and to.")
        return explicit(start, end)
    name = window or "24h"
    end_us = minute_end(to_us(now))
    if name == "mtd":
        return Window(to_us(month_start(now)), end_us)
    if name not in RELATIVE:
        raise ValidationFailed(f"window must be one of {', '.join(WINDOW_NAMES)}.", window=name)
    start_us = end_us - RELATIVE[name]
    if RELATIVE[name] >= 7 * DAY_US:  # older than minute retention: start on the hour
        start_us -= start_us % HOUR_US
    return Window(start_us, end_us)


def explicit(start: datetime, end: datetime) -> Window:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("from and to need a UTC offset (e.g. 2026-11-01T00:00:00Z).")
    lo, hi = to_us(start), to_us(end)
    if lo % MINUTE_US or hi % MINUTE_US:
        raise ValidationFailed(
            "from and to must be aligned to the minute.", **{"from": iso(lo), "to": iso(hi)}
        )
    if lo >= hi:
        raise ValidationFailed("from must be before to.", **{"from": iso(lo), "to": iso(hi)})
    return Window(lo, hi)


def segments(window: Window, coarsest: str = "d") -> list[Segment]:
    """Tile ``window`` with buckets no coarser than ``coarsest``, largest first in the middle."""
    levels = [(g, SIZES[g]) for g in reversed(ORDER[: ORDER.index(coarsest) + 1])]
    out: list[Segment] = []
    _split(window.start_us, window.end_us, levels, out)
    return out


def _split(lo: int, hi: int, levels: list[tuple[str, int]], out: list[Segment]) -> None:
    if lo >= hi:
        return
    g, size = levels[0]
    if len(levels) == 1:
        out.append((g, lo, hi))
        return
    a = -(-lo // size) * size
    b = hi // size * size
    if a >= b:
        _split(lo, hi, levels[1:], out)
        return
    _split(lo, a, levels[1:], out)
    out.append((g, a, b))
    _split(b, hi, levels[1:], out)


def check_minutes(segs: list[Segment], now_us: int, retention_days: int) -> None:
    """Refuse windows that would need minute buckets retention already removed."""
    oldest = now_us - retention_days * DAY_US
    for g, lo, _hi in segs:
        if g == "m" and lo < oldest:
            raise ValidationFailed(
                f"Minute detail is kept for {retention_days} days; align from/to to the hour for older ones.",
                minute_retention_days=retention_days,
                oldest_minute=iso(oldest),
            )


def bucket_floor(us: int, bucket: str) -> int:
    return us - us % SIZES[bucket]


def point_times(window: Window, bucket: str) -> list[int]:
    size = SIZES[bucket]
    first = bucket_floor(window.start_us, bucket)
    return list(range(first, window.end_us, size))


def day_range(start: datetime, days: int) -> tuple[int, int]:
    lo = to_us(utc(start).replace(hour=0, minute=0, second=0, microsecond=0))
    return lo, lo + days * DAY_US


def day_of(us: int) -> datetime:
    return from_us(us - us % DAY_US)


def fleet_blocks(window: Window, oldest_minute_us: int | None = None) -> list[Block]:
    """Signed blocks of the fleet levels whose weighted sum is exactly ``window``, with the
    fewest dense blocks; no minute block starts before ``oldest_minute_us``."""
    oldest = None if oldest_minute_us is None else -(-oldest_minute_us // MINUTE_US) * MINUTE_US
    return list(_fleet_blocks(window.start_us, window.end_us, oldest))


@lru_cache(maxsize=256)
def _fleet_blocks(start_us: int, end_us: int, oldest_minute_us: int | None) -> tuple[Block, ...]:
    # state: where each edge stands now -> (cost so far, the moves that got it there)
    states: dict[tuple[int, int], tuple[float, tuple[_Move, ...]]] = {(start_us, end_us): (0.0, ())}
    for i in range(len(LEVELS) - 1):
        up = LEVELS[i + 1][1]
        nxt: dict[tuple[int, int], tuple[float, tuple[_Move, ...]]] = {}
        for (pa, pb), (cost, moves) in states.items():
            for na in {pa - pa % up, -(-pa // up) * up}:
                for nb in {pb - pb % up, -(-pb // up) * up}:
                    ma, mb = _move(i, pa, na, -1), _move(i, pb, nb, +1)
                    if i == 0 and oldest_minute_us is not None:
                        if any(m[1] < oldest_minute_us for m in (ma, mb) if m[1] < m[2]):
                            continue
                    c = cost + _level_cost(ma, mb)
                    if (na, nb) not in nxt or c < nxt[(na, nb)][0]:
                        nxt[(na, nb)] = (c, (*moves, ma, mb))
        states = nxt
    top = len(LEVELS) - 1
    best = min(
        (
            (cost + _level_cost(_move(top, pa, pb, -1), None), (*moves, _move(top, pa, pb, -1)))
            for (pa, pb), (cost, moves) in states.items()
        ),
        key=lambda x: x[0],
    )
    cells: dict[tuple[int, int], int] = {}
    for level, lo, hi, coef in best[1]:
        for t in range(lo, hi, LEVELS[level][1]):
            cells[(level, t)] = cells.get((level, t), 0) + coef
    return tuple(_ranges({k: c for k, c in cells.items() if c}))


_Move = tuple[int, int, int, int]  # level index, start, end, coefficient


def _move(level: int, p: int, n: int, side: int) -> _Move:
    """Edge ``p`` (side -1: from, +1: to) moves to ``n``: P(p) = P(n) ± the buckets between."""
    return (level, n, p, side) if n <= p else (level, p, n, -side)


def _level_cost(a: _Move, b: _Move | None) -> float:
    """Weighted number of buckets with a non-zero coefficient after both edges' moves."""
    level, size = a[0], LEVELS[a[0]][1]
    n = (a[2] - a[1]) // size
    if b is not None:
        overlap = max(0, min(a[2], b[2]) - max(a[1], b[1])) // size
        n += (b[2] - b[1]) // size - (2 * overlap if a[3] + b[3] == 0 else overlap)
    return n * (MINUTE_WEIGHT if level == 0 else 1.0)


def _ranges(cells: dict[tuple[int, int], int]) -> list[Block]:
    """Adjacent buckets of one level with the same coefficient become one range."""
    out: list[Block] = []
    for (level, t), c in sorted(cells.items()):
        name, size = LEVELS[level]
        if out and out[-1][0] == name and out[-1][2] == t and out[-1][3] == c:
            out[-1] = (name, out[-1][1], t + size, c)
        else:
            out.append((name, t, t + size, c))
    return out
