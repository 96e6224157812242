"""Query windows and how they are tiled by rollup buckets.

A window is ``[from, to)`` in epoch microseconds UTC, aligned to the minute. Relative
windows (``15m``, ``1h``, ``24h``, ``7d``, ``30d``) end at the end of the current minute,
so a spend recorded just now is inside; ``7d`` and ``30d`` start at the top of the hour
(their start lies beyond minute retention); ``mtd`` starts at the first of the month (UTC).
Explicit ``from``/``to`` may carry any UTC offset; they are converted to UTC first, so a
window given as ``01:00+01:00`` is the same as ``00:00Z`` (there is no DST anywhere here).

``segments`` tiles a window *exactly* with the coarsest buckets that fit: whole days in
the middle, whole hours at the ragged ends, minutes at the minute edges. Totals are
therefore exact while the number of buckets read is at most ~2·59 + 2·23 + days, whatever
the number of raw events. Minute rollups are pruned after ``minute_retention`` days; a
window whose minute edges are older than that must be aligned to the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from spendwarden.analytics.rollup import DAY_US, HOUR_US, MINUTE_US, SIZES
from spendwarden.clock import from_us, iso, to_us, utc
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
