"""Calendar windows in UTC. Caps count spend per window; weeks start on Monday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from spendwarden.clock import utc

HOUR_US = 3_600_000_000  # an hour in the database's epoch microseconds
DAY_US = 24 * HOUR_US

WINDOW_CAPS = ("hourly", "daily", "weekly", "monthly", "total")


def window_key(cap: str, at: datetime) -> str:
    """The counter period a moment falls in, e.g. ``("daily", 2026-11-23T10:00Z) -> "2026-11-23"``."""
    at = utc(at)
    if cap == "hourly":
        return at.strftime("%Y-%m-%dT%H")
    if cap == "daily":
        return at.strftime("%Y-%m-%d")
    if cap == "weekly":
        return (at - timedelta(days=at.weekday())).strftime("W%Y-%m-%d")
    if cap == "monthly":
        return at.strftime("%Y-%m")
    if cap == "total":
        return "all"
    raise ValueError(f"not a window cap: {cap}")


def window_keys(at: datetime) -> dict[str, str]:
    """Every window key for one moment: the counters a spend at ``at`` adds to."""
    return _keys_of_hour(int(utc(at).timestamp()) // 3600)


@lru_cache(maxsize=4096)
def _keys_of_hour(hour: int) -> dict[str, str]:
    """Keys depend only on the hour, so the bulk path computes them once per hour seen."""
    at = datetime.fromtimestamp(hour * 3600, tz=UTC)
    return {cap: window_key(cap, at) for cap in WINDOW_CAPS}


def window_keys_us(at_us: int) -> dict[str, str]:
    """``window_keys`` for epoch microseconds (how rows store time)."""
    return _keys_of_hour(at_us // HOUR_US)


def window_bounds(cap: str, at: datetime) -> tuple[datetime, datetime | None]:
    """Start (inclusive) and end (exclusive) of the window containing ``at``."""
    at = utc(at)
    if cap == "hourly":
        start = at.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if cap == "daily":
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if cap == "weekly":
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=at.weekday())
        return start, start + timedelta(days=7)
    if cap == "monthly":
        start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return start, nxt
    if cap == "total":
        return datetime.min.replace(tzinfo=at.tzinfo), None
    raise ValueError(f"not a window cap: {cap}")


def previous_hour_keys(at: datetime, hours: int) -> list[str]:
    """Keys of the ``hours`` complete hours before the hour containing ``at`` (newest first)."""
    start = utc(at).replace(minute=0, second=0, microsecond=0)
    return [window_key("hourly", start - timedelta(hours=i)) for i in range(1, hours + 1)]
