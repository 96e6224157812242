"""The notifier: sends queued alert deliveries, off the write path, with retries.

It sleeps on an in-process wake-up that the live publisher pulls whenever an alert is
emitted (after its transaction committed), so delivery usually starts within
milliseconds; it also wakes on a short timer for retries and for alerts committed by other
replicas. Rows are claimed with a lease (``SKIP LOCKED`` on PostgreSQL), so two notifiers
never send the same delivery at once, and a crash mid-send only delays it to the lease end.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from spendwarden.alerts.formats import build_request
from spendwarden.alerts.lifecycle import alert_public
from spendwarden.clock import Clock, to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_signals as qs
from spendwarden.db.store import Store
from spendwarden.ledger.context import Emitted
from spendwarden.ledger.types import loads

log = logging.getLogger("spendwarden.notifier")
SECOND = 1_000_000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def backoff_seconds(attempts: int, cap: float = 300.0) -> float:
    """1 s, 2 s, 4 s … capped at five minutes."""
    return float(min(cap, 2 ** max(0, attempts - 1)))


class Notifier:
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
        self.store, self.clock = store, clock
        self.max_attempts, self.batch, self.lease_seconds = max_attempts, batch, lease_seconds
        self._wake = threading.Event()
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": "Spendwarden-Notifier/1"})
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="notifier")

    def on_events(self, events: list[Emitted]) -> None:
        """A publisher: wake up as soon as an alert event was committed."""
        if any(e.kind == "alert" for e in events):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def run_once(self, idle_wait: float = 0.5) -> int:
        """One worker step: wait for a wake-up (or the idle timer), then send what is due."""
        self._wake.wait(idle_wait)
        self._wake.clear()
        sent = 0
        while True:
            n = self.deliver_due()
            sent += n
            if n < self.batch:
                return sent

    def deliver_due(self) -> int:
        """Claim due deliveries, send them concurrently, record each outcome. Returns how many."""
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            claimed = qs.claim_due(
                conn,
                postgres=self.store.is_postgres,
                now=now,
                lease_until=now + self.lease_seconds * SECOND,
                limit=self.batch,
            )
        if not claimed:
            return 0
        with self.store.read() as conn:
            alerts = {r["alert_id"]: q.get_alert(conn, r["alert_id"]) for r in claimed}
            channels = {r["channel_id"]: qs.get_channel(conn, r["channel_id"]) for r in claimed}
        futures = [
            self._pool.submit(self._send, d, alerts[d["alert_id"]], channels[d["channel_id"]])
            for d in claimed
        ]
        outcomes = [f.result() for f in futures]
        self._record(claimed, outcomes)
        return len(claimed)

    def _send(self, delivery: dict[str, Any], alert: dict[str, Any] | None, channel: Any) -> Outcome:
        if channel is None:
            return Outcome(False, None, "channel deleted")
        if alert is None:
            return Outcome(False, None, "alert not found")
        ts = to_us(self.clock.now()) // SECOND
        request = build_request(
            channel["type"],
            loads(channel["config"], {}),
            alert_public(alert),
            delivery["event"],
            delivery_id=delivery["id"],
            timestamp=ts,
        )
        try:
            response = self._http.post(request.url, content=request.body, headers=request.headers)
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{exc.__class__.__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:300]}")

    def _record(self, claimed: list[dict[str, Any]], outcomes: list[Outcome]) -> None:
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            for delivery, out in zip(claimed, outcomes, strict=True):
                qs.update_delivery(conn, delivery["id"], self._result(delivery, out, now))
        for delivery, out in zip(claimed, outcomes, strict=True):
            if not out.ok:
                log.warning(
                    "delivery %s failed (attempt %s): %s", delivery["id"], delivery["attempts"], out.error
                )

    def _result(self, delivery: dict[str, Any], out: Outcome, now: int) -> dict[str, Any]:
        values: dict[str, Any] = {
            "last_status_code": out.status_code,
            "last_error": out.error,
            "updated_at": now,
        }
        if out.ok:
            return {**values, "status": "delivered", "delivered_at": now}
        gone = out.error in ("channel deleted", "alert not found")
        if gone or delivery["attempts"] >= self.max_attempts:
            return {**values, "status": "failed"}
        retry_at = now + int(backoff_seconds(delivery["attempts"]) * SECOND)
        return {**values, "status": "pending", "next_attempt_at": retry_at}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()
