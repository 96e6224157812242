"""Outbound webhooks: subscribers hear ``transaction.*``, ``alert.*`` and ``agent.*`` events.

The write path never waits for a subscriber. Matching deliveries are written to the
outbox inside the ledger transaction that produced the event (no network I/O, nothing at
all when no subscription matches), so a crash right after the commit loses none; after
the commit the publisher only wakes the sender worker, which claims
due rows (``SKIP LOCKED`` on PostgreSQL), posts them concurrently with a timeout, and
retries failures with exponential backoff. Bodies are signed exactly like the alert
notifier's generic webhook (``spendwarden.alerts.formats.sign``).
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection

from spendwarden.alerts.formats import sign
from spendwarden.clock import Clock, iso, to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.db.store import Store
from spendwarden.delivery import SECOND, DeliveryWorker, OutboundRequest
from spendwarden.ids import new_id
from spendwarden.ledger.context import Emitted
from spendwarden.ledger.types import loads

VERSION_KEY = "webhooks"


def wants(patterns: list[str], event: str) -> bool:
    """``transaction.recorded``, ``alert.*``, ``*``: shell-style patterns on event names."""
    return any(fnmatch.fnmatchcase(event, pattern) for pattern in patterns)


def envelope(delivery_id: str, event: str, payload: dict[str, Any], created_at: int) -> bytes:
    """What a subscriber receives; the delivery id lets it drop repeats."""
    body = {"id": delivery_id, "type": event, "created_at": iso(created_at), "data": payload}
    return orjson.dumps(body)


class WebhookSender(DeliveryWorker):
    """Outbox writer, publisher (wake-up) and sender worker of one process."""

    backoff_cap = 3600.0
    gone_reasons = ("subscription deleted",)

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
        super().__init__(
            store, clock, max_attempts=max_attempts, timeout=timeout, batch=batch,
            lease_seconds=lease_seconds, senders=senders, user_agent="Spendwarden-Webhooks/1",
        )  # fmt: skip
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._subs: list[dict[str, Any]] = []
        self._subs_version = -1
        self._checked_at = float("-inf")

    # --- outbox: in the ledger's own transaction -----------------------------------------

    def stage(self, conn: Connection, events: list[Emitted]) -> None:
        """Queue deliveries for these events in the transaction that produced them, so
        they commit (or roll back) with it; nothing at all when nobody subscribes."""
        subs = self.subscriptions()
        if not subs:
            return
        now = to_us(self.clock.now())
        rows = [
            self._row(sub["id"], event.name, event.payload, now)
            for event in events
            for sub in subs
            if wants(sub["events"], event.name)
        ]
        if rows:
            qi.insert_webhook_deliveries(conn, rows)

    def on_events(self, events: list[Emitted]) -> None:
        """A publisher: after commit, wake the sender when deliveries may be waiting."""
        if events and self.subscriptions():
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

    def claim(self, conn: Connection, now: int, lease_until: int) -> list[dict[str, Any]]:
        return qi.claim_webhook_deliveries(conn, now=now, lease_until=lease_until, limit=self.batch)

    def prepare(
        self, conn: Connection, claimed: list[dict[str, Any]]
    ) -> Callable[[dict[str, Any]], OutboundRequest | str]:
        subs = {d["subscription_id"]: qi.get_subscription(conn, d["subscription_id"]) for d in claimed}

        def build(delivery: dict[str, Any]) -> OutboundRequest | str:
            sub = subs[delivery["subscription_id"]]
            if sub is None:
                return "subscription deleted"
            body = envelope(
                delivery["id"], delivery["event"], loads(delivery["payload"], {}), delivery["created_at"]
            )
            headers = {
                "Content-Type": "application/json",
                "Spendwarden-Signature": sign(sub["secret"], to_us(self.clock.now()) // SECOND, body),
                "Spendwarden-Event": delivery["event"],
                "Spendwarden-Delivery": delivery["id"],
            }
            return OutboundRequest(sub["url"], body, headers)

        return build

    def update(self, conn: Connection, delivery_id: str, values: dict[str, Any]) -> None:
        qi.update_webhook_delivery(conn, delivery_id, values)
