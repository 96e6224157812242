"""The notifier: sends queued alert deliveries, off the write path, with retries.

It sleeps on an in-process wake-up that the live publisher pulls whenever an alert is
emitted (after its transaction committed), so delivery usually starts within
milliseconds; it also wakes on a short timer for retries and for alerts committed by other
replicas. Rows are claimed with a lease (``SKIP LOCKED`` on PostgreSQL), so two notifiers
never send the same delivery at once, and a crash mid-send only delays it to the lease end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from spendwarden.alerts.formats import build_request
from spendwarden.alerts.lifecycle import alert_public
from spendwarden.clock import Clock, to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_signals as qs
from spendwarden.db.store import Store
from spendwarden.delivery import SECOND, DeliveryWorker, OutboundRequest
from spendwarden.ledger.context import Emitted
from spendwarden.ledger.types import loads


class Notifier(DeliveryWorker):
    """Sends alert deliveries to their channels (Slack, Telegram, PagerDuty, webhook)."""

    gone_reasons = ("channel deleted", "alert not found")

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_attempts: int = 200,
        timeout: float = 5.0,
        batch: int = 50,
        lease_seconds: int = 60,
        senders: int = 8,
    ) -> None:
        super().__init__(
            store, clock, max_attempts=max_attempts, timeout=timeout, batch=batch,
            lease_seconds=lease_seconds, senders=senders, user_agent="Spendwarden-Notifier/1",
        )  # fmt: skip

    def on_events(self, events: list[Emitted]) -> None:
        """A publisher: wake up as soon as an alert event was committed."""
        if any(e.kind == "alert" for e in events):
            self._wake.set()

    def claim(self, conn: Connection, now: int, lease_until: int) -> list[dict[str, Any]]:
        return qs.claim_due(
            conn, postgres=self.store.is_postgres, now=now, lease_until=lease_until, limit=self.batch
        )

    def prepare(
        self, conn: Connection, claimed: list[dict[str, Any]]
    ) -> Callable[[dict[str, Any]], OutboundRequest | str]:
        alerts = {r["alert_id"]: q.get_alert(conn, r["alert_id"]) for r in claimed}
        channels = {r["channel_id"]: qs.get_channel(conn, r["channel_id"]) for r in claimed}
        timestamp = to_us(self.clock.now()) // SECOND

        def build(delivery: dict[str, Any]) -> OutboundRequest | str:
            channel, alert = channels[delivery["channel_id"]], alerts[delivery["alert_id"]]
            if channel is None:
                return "channel deleted"
            if alert is None:
                return "alert not found"
            return build_request(
                channel["type"], loads(channel["config"], {}), alert_public(alert), delivery["event"],
                delivery_id=delivery["id"], timestamp=timestamp,
            )  # fmt: skip

        return build

    def update(self, conn: Connection, delivery_id: str, values: dict[str, Any]) -> None:
        qs.update_delivery(conn, delivery_id, values)
