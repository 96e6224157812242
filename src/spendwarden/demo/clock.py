"""The demo's clock: simulated time that the scenario drives, shared with an in-process server.

Detectors run on event time, but periodic work (the signals tick, hold expiry) runs on the
server's clock. If that clock ran ahead of the events the scenario sends, a tick would move
each agent's windows past them and the late events would fall outside every window. So the
player moves this clock to each event's time just before sending it: the server never
sees a "now" later than the newest event, however slow the machine is.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class DemoClock:
    """Stands still until moved (``advance_to``) or set running at a speed (``run``)."""

    def __init__(self, start: datetime) -> None:
        self._base = start.astimezone(UTC)
        self._wall = time.monotonic()
        self._speed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        if not self._speed:
            return self._base
        return self._base + timedelta(seconds=(time.monotonic() - self._wall) * self._speed)

    def advance_to(self, when: datetime) -> None:
        """Move to ``when`` and stand still there; never backwards."""
        with self._lock:
            self._base = max(self._now(), when.astimezone(UTC))
            self._speed = 0.0

    def run(self, speed: float = 1.0) -> None:
        """Let time flow from here at ``speed`` simulated seconds per wall second."""
        with self._lock:
            self._base, self._wall, self._speed = self._now(), time.monotonic(), speed
