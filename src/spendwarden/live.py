"""In-process fan-out of live events to SSE subscribers.

Writers publish from worker threads after their transaction commits; each subscriber
owns a bounded asyncio queue on the server's loop. A slow subscriber loses its oldest
events (and is told so), never slowing the write path.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

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


CHANNEL = "spendwarden_live"
NOTIFY_LIMIT = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
NOTIFY_BATCH = 1000  # payloads per statement
MAX_PENDING = 100_000  # payloads queued for the sender at most (live events are best effort)
# The payloads travel as one JSON array (psycopg's text-array quoting of JSON strings costs
# more than the NOTIFY itself).
_NOTIFY_MANY = (
    "SELECT pg_notify(%s, p) FROM json_array_elements_text(%s::json) WITH ORDINALITY AS u(p, i) ORDER BY i"
)


class PgBridge:
    """Carries live events across replicas with PostgreSQL LISTEN/NOTIFY.

    Every replica NOTIFYs what it commits and LISTENs on one connection; what it hears
    (its own events included) goes to its local hub, so each SSE stream shows every
    replica's events exactly once. A payload too big for NOTIFY travels without its body
    (``truncated: true``); subscribers can fetch the object by id.
    """

    def __init__(self, url: str, hub: Hub) -> None:
        self.conninfo = "postgresql://" + url.split("://", 1)[1]
        self.hub = hub
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._sending: threading.Thread | None = None
        self._in_flight = False  # the sender holds a batch it has not finished sending
        self._sender: Any = None
        self._seq = 0

    def publish(self, events: list[Emitted]) -> None:
        """Queue a committed batch for the sender thread, in commit order.

        Why a thread: the NOTIFY round trip was one of an authorization's eight, paid by
        the request after its commit, one request at a time under the send lock. The
        sender takes everything queued since its last send as one statement, so a
        burst of commits costs a round trip or two, and no request waits for it."""
        with self._send_lock:
            self._pending.extend(_notify_payload(e, self._next_seq()) for e in events)
            if len(self._pending) > MAX_PENDING:  # the database is unreachable: keep the newest
                del self._pending[: len(self._pending) - MAX_PENDING]
            if self._sending is None or not self._sending.is_alive():
                self._sending = threading.Thread(target=self._send_loop, name="pg-notify", daemon=True)
                self._sending.start()
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued has been sent (or dropped on a lost connection)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._send_lock:
                if not self._pending and not self._in_flight:
                    return True
            self._wake.set()
            time.sleep(0.005)
        return False

    def _send_loop(self) -> None:
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            with self._send_lock:
                batch, self._pending = self._pending, []
                self._in_flight = bool(batch)
                if not batch and self._stop.is_set():
                    return
            try:
                if batch:
                    self._send(batch)
            finally:
                with self._send_lock:
                    self._in_flight = False

    def _send(self, payloads: list[str]) -> None:
        """NOTIFY in as few round trips as possible (a bulk batch has thousands of events;
        one ``pg_notify`` each cost more than the batch's own write)."""
        try:
            conn = self._connection()
            for start in range(0, len(payloads), NOTIFY_BATCH):
                chunk = payloads[start : start + NOTIFY_BATCH]
                conn.execute(_NOTIFY_MANY, (CHANNEL, orjson.dumps(chunk).decode()))
        except Exception:  # a lost connection must never fail the write that already committed
            self._sender = None

    def _next_seq(self) -> int:
        # PostgreSQL folds identical payloads sent in one transaction into one: a sequence
        # number keeps every event distinct.
        self._seq += 1
        return self._seq

    def _connection(self) -> Any:
        import psycopg

        if self._sender is None or self._sender.closed:
            self._sender = psycopg.connect(self.conninfo, autocommit=True)
        return self._sender

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="pg-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.flush()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sending is not None:
            self._sending.join(timeout=5)
        if self._sender is not None:
            self._sender.close()

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.hub.publish([_from_payload(note.payload)])
            except Exception:
                self._stop.wait(1.0)  # reconnect after a pause


def _notify_payload(event: Emitted, seq: int = 0) -> str:
    text = orjson.dumps({"k": event.kind, "n": event.name, "s": seq, "p": event.payload}).decode()
    if len(text.encode()) <= NOTIFY_LIMIT:
        return text
    slim = {"id": event.payload.get("id"), "agent_id": event.payload.get("agent_id"), "truncated": True}
    return orjson.dumps({"k": event.kind, "n": event.name, "s": seq, "p": slim}).decode()


def _from_payload(text: str) -> Emitted:
    data = orjson.loads(text)
    return Emitted(data["k"], data["n"], data["p"])
