"""Outbound webhooks: subscribers hear ``transaction.*``, ``alert.*`` and ``agent.*`` events.

The write path never waits for a subscriber. After a ledger transaction commits, the
publisher writes matching deliveries to the outbox in its own short transaction (no
network I/O, and nothing at all when no subscription matches); the sender worker claims
due rows (``SKIP LOCKED`` on PostgreSQL), posts them concurrently with a timeout, and
retries failures with exponential backoff. Bodies are signed exactly like the alert
notifier's generic webhook (``spendwarden.alerts.formats.sign``).
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from spendwarden.alerts.formats import sign
from spendwarden.clock import Clock, iso, to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.db.store import Store
from spendwarden.ids import new_id
from spendwarden.ledger.context import Emitted
from spendwarden.ledger.types import loads

log = logging.getLogger("spendwarden.webhooks")
SECOND = 1_000_000
VERSION_KEY = "webhooks"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def backoff_seconds(attempts: int, cap: float = 3600.0) -> float:
    """1 s, 2 s, 4 s … capped at an hour."""
    return float(min(cap, 2 ** max(0, attempts - 1)))


def wants(patterns: list[str], event: str) -> bool:
    """``transaction.recorded``, ``alert.*``, ``*``: shell-style patterns on event names."""
    return any(fnmatch.fnmatchcase(event, pattern) for pattern in patterns)


def envelope(delivery_id: str, event: str, payload: dict[str, Any], created_at: int) -> bytes:
    """What a subscriber receives; the delivery id lets it drop repeats."""
    body = {"id": delivery_id, "type": event, "created_at": iso(created_at), "data": payload}
    return orjson.dumps(body)


class WebhookSender:
    """Publisher (outbox writer) and sender worker of one process."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_attempts: int = 15,
        timeout: float = 5.0,
        batch: int = 100,
        lease_seconds: int = 60,
        senders: int = 8,
        cache_seconds: float = 1.0,
    ) -> None:
        self.store, self.clock = store, clock
        self.max_attempts, self.batch, self.lease_seconds = max_attempts, batch, lease_seconds
        self.cache_seconds = cache_seconds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._subs: list[dict[str, Any]] = []
        self._subs_version = -1
        self._checked_at = float("-inf")
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": "Spendwarden-Webhooks/1"})
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="webhooks")

    # --- publisher: after commit, into the outbox ---------------------------------------

    def on_events(self, events: list[Emitted]) -> None:
        """Queue deliveries for committed events; cheap when nobody subscribes."""
        subs = self.subscriptions()
        if not subs or not events:
            return
        now = to_us(self.clock.now())
        rows = [
            self._row(sub["id"], event.name, event.payload, now)
            for event in events
            for sub in subs
            if wants(sub["events"], event.name)
        ]
        if not rows:
            return
        try:
            with self.store.write() as conn:
                qi.insert_webhook_deliveries(conn, rows)
        except Exception:  # the ledger write already committed; never fail the caller
            log.exception("could not queue %d webhook deliveries", len(rows))
            return
        self._wake.set()

    def _row(self, sub_id: str, event: str, payload: dict[str, Any], now: int) -> dict[str, Any]:
        return {
            "id": new_id("whd_"),
            "subscription_id": sub_id,
            "event": event,
            "payload": orjson.dumps(payload).decode(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": 0,
            "created_at": now,
            "updated_at": now,
        }

    def subscriptions(self) -> list[dict[str, Any]]:
        """Enabled subscriptions, re-read when the ``webhooks`` counter moves (checked ≤ 1/s)."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < self.cache_seconds:
                return self._subs
            self._checked_at = now
        with self.store.read() as conn:
            version = qi.get_version(conn, VERSION_KEY)
            if version != self._subs_version:
                rows = qi.list_subscriptions(conn, enabled_only=True)
                subs = [{**r, "events": loads(r["events"], [])} for r in rows]
                with self._lock:
                    self._subs, self._subs_version = subs, version
        return self._subs

    def invalidate(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")

    # --- sender worker ------------------------------------------------------------------

    def run_once(self, idle_wait: float = 0.5) -> int:
        """One worker step: wait for a wake-up (or the idle timer), then send what is due."""
        self._wake.wait(idle_wait)
        self._wake.clear()
        sent = 0
        while (n := self.deliver_due()) > 0:
            sent += n
            if n < self.batch:
                break
        return sent

    def wake(self) -> None:
        self._wake.set()

    def deliver_due(self) -> int:
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            claimed = qi.claim_webhook_deliveries(
                conn, now=now, lease_until=now + self.lease_seconds * SECOND, limit=self.batch
            )
        if not claimed:
            return 0
        with self.store.read() as conn:
            subs = {d["subscription_id"]: qi.get_subscription(conn, d["subscription_id"]) for d in claimed}
        futures = [self._pool.submit(self._send, d, subs[d["subscription_id"]]) for d in claimed]
        outcomes = [f.result() for f in futures]
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            for delivery, out in zip(claimed, outcomes, strict=True):
                qi.update_webhook_delivery(conn, delivery["id"], self._result(delivery, out, now))
        return len(claimed)

    def _send(self, delivery: dict[str, Any], sub: dict[str, Any] | None) -> Outcome:
        if sub is None:
            return Outcome(False, None, "subscription deleted")
        body = envelope(
            delivery["id"], delivery["event"], loads(delivery["payload"], {}), delivery["created_at"]
        )
        headers = {
            "Content-Type": "application/json",
            "Spendwarden-Signature": sign(sub["secret"], to_us(self.clock.now()) // SECOND, body),
            "Spendwarden-Event": delivery["event"],
            "Spendwarden-Delivery": delivery["id"],
        }
        try:
            response = self._http.post(sub["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{exc.__class__.__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:300]}")

    def _result(self, delivery: dict[str, Any], out: Outcome, now: int) -> dict[str, Any]:
        values: dict[str, Any] = {
            "last_status_code": out.status_code,
            "last_error": out.error,
            "updated_at": now,
        }
        if out.ok:
            return {**values, "status": "delivered", "delivered_at": now}
        if out.error == "subscription deleted" or delivery["attempts"] >= self.max_attempts:
            return {**values, "status": "failed"}
        retry_at = now + int(backoff_seconds(delivery["attempts"]) * SECOND)
        return {**values, "status": "pending", "next_attempt_at": retry_at}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()
