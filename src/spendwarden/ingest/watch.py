"""``spendwarden watch``: follow a payment gate's WebSocket and record what it reports.

Primary mode: straight into the database through ``record_batch`` (like the other admin
commands), because the sidecar usually runs beside the database and this keeps one hop and
one failure mode fewer. ``--url``/``--token`` posts the same batches to a server's
``/v1/ingest/events`` instead, for gates far from the database.

Exactly once: messages are buffered and written in batches; the cursor (the message's
``cursor`` or ``id``) advances only after its batch committed and is stored per socket
URL. On reconnect (exponential backoff with jitter) the sidecar asks to resume with
``?since=<cursor>``; anything the gate sends twice is dropped by ``(source, external_id)``,
and a message without an external id gets ``"<socket>:<cursor>"`` as one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson
import websockets

from spendwarden.clock import to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.ingest.canonical import ParseError
from spendwarden.ingest.pipeline import Mapper, canonical_mapper, ingest_items
from spendwarden.ingest.receivers import rail_mapper
from spendwarden.ledger.context import LedgerCore

log = logging.getLogger("spendwarden.watch")
FORMATS = ("canonical", "x402", "l402")


@dataclass
class WatchStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    connections: int = 0
    cursor: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, report: dict[str, Any]) -> None:
        self.accepted += report["accepted"]
        self.duplicates += report["duplicates"]
        self.rejected += report["rejected"]
        self.errors.extend(r for r in report["results"] if r["status"] == "rejected")
        del self.errors[:-100]


Writer = Callable[[list[tuple[int, object | ParseError]]], dict[str, Any]]


def resume_url(url: str, cursor: str | None) -> str:
    if cursor is None:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "since"] + [("since", cursor)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def message_cursor(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("cursor", item.get("id"))
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)[:200]
    return None


def db_writer(core: LedgerCore, fmt: str, socket_url: str) -> Writer:
    """Write batches straight to the database (the primary mode)."""
    prefix = "ws:" + hashlib.sha256(socket_url.encode()).hexdigest()[:12]

    def write(batch: list[tuple[int, object | ParseError]]) -> dict[str, Any]:
        with core.store.read() as conn:
            mapper: Mapper = (
                canonical_mapper(core, now=core.clock.now(), default_source="watch")
                if fmt == "canonical"
                else rail_mapper(core, conn, fmt, core.clock.now())
            )
            keyed = [(n, _keyed(item, prefix)) for n, item in batch]
            return ingest_items(core, keyed, mapper, batch_size=len(batch) or 1).body()

    return write


def http_writer(server: str, token: str) -> Writer:
    """Post canonical batches to ``/v1/ingest/events`` (``--url`` mode)."""
    client = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def write(batch: list[tuple[int, object | ParseError]]) -> dict[str, Any]:
        lines = [item for _n, item in batch if not isinstance(item, ParseError)]
        body = b"\n".join(orjson.dumps(item) for item in lines)
        answer = client.post(
            "/v1/ingest/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        answer.raise_for_status()
        report: dict[str, Any] = answer.json()
        return report

    return write


def _keyed(item: object | ParseError, prefix: str) -> object | ParseError:
    cursor = message_cursor(item)
    if isinstance(item, dict) and cursor is not None:
        rest = {k: v for k, v in item.items() if k not in ("cursor", "id")}
        if rest.get("external_id") is None and "payment_hash" not in rest and "settleResponse" not in rest:
            rest["external_id"] = f"{prefix}:{cursor}"
        return rest
    return item


class Watcher:
    def __init__(
        self,
        url: str,
        write: Writer,
        *,
        batch_size: int = 500,
        flush_seconds: float = 0.2,
        max_backoff: float = 30.0,
        load_cursor: Callable[[], str | None] = lambda: None,
        save_cursor: Callable[[str], None] = lambda cursor: None,
    ) -> None:
        self.url, self.write = url, write
        self.batch_size, self.flush_seconds, self.max_backoff = batch_size, flush_seconds, max_backoff
        self.load_cursor, self.save_cursor = load_cursor, save_cursor
        self.stats = WatchStats(cursor=load_cursor())
        self._buffer: list[tuple[int, object | ParseError]] = []
        self._pending_cursor: str | None = None

    async def run(self, stop: asyncio.Event, *, max_connections: int | None = None) -> WatchStats:
        """Connect, read, reconnect with backoff; returns when ``stop`` is set."""
        failures = 0
        while not stop.is_set() and (max_connections is None or self.stats.connections < max_connections):
            try:
                async with websockets.connect(resume_url(self.url, self.stats.cursor)) as ws:
                    self.stats.connections += 1
                    failures = 0
                    await self._read(ws, stop)
            except (OSError, websockets.WebSocketException) as exc:
                log.warning("socket %s: %s", self.url, exc)
            await asyncio.to_thread(self._flush)
            if stop.is_set():
                break
            failures += 1
            delay = min(self.max_backoff, 0.05 * 2**failures) * (0.5 + random.random() / 2)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
        return self.stats

    async def _read(self, ws: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=self.flush_seconds)
            except TimeoutError:
                await asyncio.to_thread(self._flush)
                continue
            self._take(message)
            if len(self._buffer) >= self.batch_size:
                await asyncio.to_thread(self._flush)

    def _take(self, message: str | bytes) -> None:
        self.stats.received += 1
        raw = message.encode() if isinstance(message, str) else message
        try:
            item: object | ParseError = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            item = ParseError(self.stats.received, f"Message {self.stats.received} is not valid JSON: {exc}")
        self._buffer.append((self.stats.received, item))
        self._pending_cursor = message_cursor(item) or self._pending_cursor

    def _flush(self) -> None:
        """Write the buffer; the cursor moves only after the batch committed."""
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        self.stats.add(self.write(batch))
        if self._pending_cursor is not None and self._pending_cursor != self.stats.cursor:
            self.stats.cursor = self._pending_cursor
            self.save_cursor(self._pending_cursor)


def db_cursor_store(core: LedgerCore, url: str) -> tuple[Callable[[], str | None], Callable[[str], None]]:
    def load() -> str | None:
        with core.store.read() as conn:
            return qi.get_watch_cursor(conn, url)

    def save(cursor: str) -> None:
        with core.store.write() as conn:
            qi.put_watch_cursor(conn, url, cursor, to_us(core.clock.now()))

    return load, save
