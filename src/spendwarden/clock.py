"""The injected clock: every time-based rule asks a ``Clock``, so tests never sleep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to; thread-safe so servers in tests can share it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


def utc(when: datetime) -> datetime:
    """Normalise to aware UTC; naive datetimes are taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(when: datetime) -> int:
    """A moment as integer microseconds since the epoch (how the database stores time)."""
    delta = utc(when) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def iso(micros: int | None) -> str | None:
    """Epoch microseconds as ISO-8601 with a ``Z``; how every timestamp leaves the API."""
    return None if micros is None else iso_us(micros)


_SECONDS = [f"{s:02d}" for s in range(60)]
_minutes: dict[int, str] = {}


def iso_us(micros: int) -> str:
    """``iso`` of a time that is there: the ``YYYY-MM-DDTHH:MM:`` part is rendered once per
    minute and reused (the same text as ``datetime.isoformat``, a fraction of the cost:
    every answer and every bulk row renders one)."""
    secs, frac = divmod(micros, 1_000_000)
    minute, sec = divmod(secs, 60)
    head = _minutes.get(minute)
    if head is None:
        if len(_minutes) >= 100_000:
            _minutes.clear()
        head = _minutes[minute] = (_EPOCH + timedelta(minutes=minute)).isoformat()[:17]
    if frac:
        return f"{head}{_SECONDS[sec]}.{frac:06d}Z"
    return head + _SECONDS[sec] + "Z"
