"""In-process fan-out of live events to SSE subscribers.

Writers publish from worker threads after their transaction commits; each subscriber
owns a bounded asyncio queue on the server's loop. A slow subscriber loses its oldest
events (and is told so), never slowing the write path.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
from typing import Any

from spendwarden.ledger.context import Emitted


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str
    name: str
    payload: dict[str, Any]


class Hub:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[LiveEvent]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.queue_size = queue_size

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> asyncio.Queue[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(self.queue_size)
        with self._lock:
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent]) -> None:
        with self._lock:
            self._subscribers.discard(queue)

    def publish(self, events: list[Emitted]) -> None:
        """Thread-safe: called by the ledger after commit."""
        if self._loop is None or not self._subscribers:
            return
        live = [LiveEvent(next(self._ids), e.kind, e.name, e.payload) for e in events]
        try:
            self._loop.call_soon_threadsafe(self._deliver, live)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _deliver(self, events: list[LiveEvent]) -> None:
        with self._lock:
            queues = list(self._subscribers)
        for queue in queues:
            for event in events:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(event)
