"""Prometheus /metrics: per-app registry, spend and authorization counters, latency."""

from __future__ import annotations

from typing import Any

from spendwarden.events import SpendEvent
from spendwarden.runtime import Runtime
from tests.api.test_spend_api import create
from tests.factories import bearer


def test_metrics_count_spend_authorizations_and_latency(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    key = create(client, admin_headers, caps={"per_transaction": "1.00"})
    assert client.post("/v1/authorize", json={"amount_usd": "0.5"}, headers=bearer(key)).status_code == 200
    assert client.post("/v1/authorize", json={"amount_usd": "5"}, headers=bearer(key)).status_code == 402
    body = {"amount_usd": "0.25", "vendor": "openai", "rail": "llm_api"}
    assert client.post("/v1/transactions", json=body, headers=bearer(key)).status_code in (200, 201)
    runtime.ledger.record(SpendEvent(agent_id="bot", amount=100_000, vendor="openai", status="refunded"))

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(key)).status_code == 403
    r = client.get("/metrics", headers=admin_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'spendwarden_spend_usd_total{agent_id="bot",rail="llm_api",vendor="openai"} 0.25' in text
    assert 'spendwarden_refunds_usd_total{agent_id="bot",rail="llm_api",vendor="openai"} 0.1' in text
    assert 'spendwarden_authorizations_total{code="approved",outcome="approved"} 1.0' in text
    assert 'spendwarden_authorizations_total{code="cap_exceeded",outcome="denied"} 1.0' in text
    assert 'route="/v1/authorize"' in text and "spendwarden_http_request_duration_seconds_bucket" in text


def test_each_app_has_its_own_registry(runtime: Runtime) -> None:
    from spendwarden.api.app import create_app

    a, b = create_app(runtime, run_workers=False), create_app(runtime, run_workers=False)
    assert a.state.metrics.registry is not b.state.metrics.registry
