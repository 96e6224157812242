"""Prometheus metrics: spend, authorization outcomes, alerts and request latency.

Each app gets its own ``CollectorRegistry`` (tests build many apps in one process).
Spend and alert counters are fed by a ledger *publisher*, which runs after commit, so a
rolled-back spend is never counted. Authorization outcomes and latency come from a pure
ASGI middleware (no per-request task or body copy on the hot path): it times every request
under its route template, and for ``POST /v1/authorize`` counts approved or the denial's
error code (read from the small error body only when the status is not 2xx).

Counters cannot go down, so refunds have their own counter; net spend is
``spendwarden_spend_usd_total - spendwarden_refunds_usd_total``. Bulk batches above the
bulk path's per-row event limit arrive as one summary event without rail or vendor;
they are counted under ``rail="(batch)"``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spendwarden.ledger.context import Emitted

AUTHORIZE_PATH = "/v1/authorize"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        spend_labels = ["agent_id", "rail", "vendor"]
        self.spend = Counter("spendwarden_spend_usd", "Settled spend in USD.", spend_labels, registry=r)
        self.refunds = Counter("spendwarden_refunds_usd", "Refunded spend in USD.", spend_labels, registry=r)
        self.transactions = Counter(
            "spendwarden_transactions", "Ledger rows recorded.", [*spend_labels, "status"], registry=r
        )
        self.authorizations = Counter(
            "spendwarden_authorizations",
            "Authorization requests by outcome.",
            ["outcome", "code"],
            registry=r,
        )
        # The series every approval increments, looked up once (``labels`` takes a lock and
        # checks its values on every call); it is exported at zero from the start.
        self.approved = self.authorizations.labels("approved", "approved")
        self.alerts = Counter("spendwarden_alerts", "Alerts opened.", ["rule", "severity"], registry=r)
        self.latency = Histogram(
            "spendwarden_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def publish(self, events: list[Emitted]) -> None:
        """Ledger publisher: runs after commit."""
        for event in events:
            if event.kind == "transaction":
                self._transaction(event)
            elif event.kind == "alert" and event.name == "alert.opened":
                p = event.payload
                self.alerts.labels(str(p.get("rule")), str(p.get("severity"))).inc()

    def _transaction(self, event: Emitted) -> None:
        p = event.payload
        agent = str(p.get("agent_id") or "")
        if event.name == "transaction.batch_recorded":
            self.spend.labels(agent, "(batch)", "(batch)").inc(float(Decimal(p.get("amount_usd") or "0")))
            self.transactions.labels(agent, "(batch)", "(batch)", "(batch)").inc(int(p.get("count") or 0))
            return
        if "amount_usd" not in p or "status" not in p:
            return
        labels = (agent, str(p.get("rail") or ""), str(p.get("vendor") or ""))
        amount = float(Decimal(p["amount_usd"]))
        if p["status"] == "settled":
            self.spend.labels(*labels).inc(amount)
        elif p["status"] == "refunded":
            self.refunds.labels(*labels).inc(amount)
        self.transactions.labels(*labels, p["status"]).inc()


class MetricsMiddleware:
    """Times requests per route template and counts authorization outcomes."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "body": b""}
        watch = scope["method"] == "POST" and scope["path"] == AUTHORIZE_PATH

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif watch and message["type"] == "http.response.body" and seen["status"] >= 300:
                seen["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            status = int(seen["status"])
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
            if watch:
                self._authorization(status, seen["body"])

    def _authorization(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            self.metrics.approved.inc()
            return
        try:
            code = str(orjson.loads(body)["error"]["code"])
        except Exception:
            code = str(status)
        self.metrics.authorizations.labels("denied", code).inc()


def install_metrics(app: Any, runtime: Any) -> None:
    """App hook: a registry per app, the timing middleware and the ledger publisher."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    runtime.ledger.core.publishers.append(metrics.publish)
