"""The shared machinery of every outbox sender (alert notifier, outbound webhooks).

A sender claims due rows with a lease (``SKIP LOCKED`` on PostgreSQL, so two replicas
never send the same row at once and a crash only delays a row to its lease end), posts
them concurrently with a timeout, and records each outcome: delivered, retried later with
exponential backoff, or failed for good. Subclasses say how to claim, how to build each
request, and where to write the result; everything else lives here once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Connection

from spendwarden.clock import Clock, to_us
from spendwarden.db.store import Store

log = logging.getLogger("spendwarden.delivery")
SECOND = 1_000_000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def backoff_seconds(attempts: int, cap: float = 300.0) -> float:
    """1 s, 2 s, 4 s … capped at ``cap``."""
    return float(min(cap, 2 ** max(0, attempts - 1)))


class DeliveryWorker:
    """Base class: wake-ups, the claim/send/record loop, and the HTTP client."""

    backoff_cap: float = 300.0
    # Reasons ``prepare`` gives for a delivery that can never be sent: fail it at once.
    gone_reasons: tuple[str, ...] = ()

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_attempts: int,
        timeout: float,
        batch: int,
        lease_seconds: int,
        senders: int,
        user_agent: str,
    ) -> None:
        self.store, self.clock = store, clock
        self.max_attempts, self.batch, self.lease_seconds = max_attempts, batch, lease_seconds
        self._wake = threading.Event()
        self._timeout, self._user_agent = timeout, user_agent
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix=user_agent.split("/")[0])

    # what a subclass provides ---------------------------------------------------------------

    def claim(self, conn: Connection, now: int, lease_until: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def prepare(
        self, conn: Connection, claimed: list[dict[str, Any]]
    ) -> Callable[[dict[str, Any]], OutboundRequest | str]:
        """Read what the sends need; return a function giving each delivery's request, or
        the reason it can never be sent (its target was deleted)."""
        raise NotImplementedError

    def update(self, conn: Connection, delivery_id: str, values: dict[str, Any]) -> None:
        raise NotImplementedError

    # the loop ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

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

    def deliver_due(self) -> int:
        """Claim due deliveries, send them concurrently, record each outcome. Returns how many."""
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            claimed = self.claim(conn, now, now + self.lease_seconds * SECOND)
        if not claimed:
            return 0
        with self.store.read() as conn:
            build = self.prepare(conn, claimed)
        outcomes = list(self._pool.map(lambda d: self._send(build(d)), claimed))
        now = to_us(self.clock.now())
        with self.store.write() as conn:
            for delivery, out in zip(claimed, outcomes, strict=True):
                self.update(conn, delivery["id"], self._result(delivery, out, now))
        for delivery, out in zip(claimed, outcomes, strict=True):
            if not out.ok:
                log.warning(
                    "delivery %s failed (attempt %s): %s", delivery["id"], delivery["attempts"], out.error
                )
        return len(claimed)

    @property
    def _http(self) -> httpx.Client:
        """Made on first use: building one loads the CA bundle (~0.1 s), which every CLI
        command and embedded runtime would otherwise pay without ever sending."""
        with self._http_lock:
            if self._http_client is None:
                headers = {"User-Agent": self._user_agent}
                self._http_client = httpx.Client(timeout=self._timeout, headers=headers)
            return self._http_client

    def _send(self, request: OutboundRequest | str) -> Outcome:
        if isinstance(request, str):
            return Outcome(False, None, request)
        try:
            response = self._http.post(request.url, content=request.body, headers=request.headers)
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
        if out.error in self.gone_reasons or delivery["attempts"] >= self.max_attempts:
            return {**values, "status": "failed"}
        retry_at = now + int(backoff_seconds(delivery["attempts"], self.backoff_cap) * SECOND)
        return {**values, "status": "pending", "next_attempt_at": retry_at}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None
