"""Pricing LLM usage on the write path: genai-prices, custom prices from /v1/prices, fallback."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.ingest.plugin import catalog_of
from spendwarden.runtime import Runtime, build_runtime
from tests.factories import bearer, make_agent

USAGE = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}
# gpt-4o: $2.50 / MTok in, $10 / MTok out -> 0.0025 + 0.005
GPT4O = "0.007500"


def settle_with_usage(client: TestClient, key: str, usage: dict[str, Any]) -> Any:
    hold = client.post(
        "/v1/authorize", json={"amount_usd": "0.10", "model": usage.get("model")}, headers=bearer(key)
    )
    assert hold.status_code == 200, hold.text
    return client.post(
        f"/v1/authorizations/{hold.json()['id']}/settle", json={"usage": usage}, headers=bearer(key)
    )


def test_settle_and_record_price_usage_with_genai_prices(runtime: Runtime, client: TestClient) -> None:
    key = make_agent(runtime.ledger, "llm")
    settled = settle_with_usage(client, key, USAGE)
    assert settled.status_code == 200, settled.text
    txn = settled.json()["transaction"]
    assert txn["amount_usd"] == GPT4O
    assert txn["price_version"].startswith("genai-prices:")
    recorded = client.post("/v1/transactions", json={"usage": USAGE}, headers=bearer(key))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["transaction"]["amount_usd"] == GPT4O


def test_custom_price_overrides_and_is_audited(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    key = make_agent(runtime.ledger, "llm")
    put = client.put(
        "/v1/prices/openai/gpt-4o",
        json={"input_per_mtok": "1", "output_per_mtok": "2", "version": "negotiated-2026"},
        headers=admin_headers,
    )
    assert put.status_code == 200, put.text
    txn = client.post("/v1/transactions", json={"usage": USAGE}, headers=bearer(key)).json()["transaction"]
    assert txn["amount_usd"] == "0.002000"
    assert txn["price_version"] == "custom:negotiated-2026"
    listed = client.get("/v1/prices", headers=admin_headers).json()["prices"]
    assert listed[0]["model"] == "gpt-4o" and listed[0]["input_per_mtok"] == "1"
    audit = client.get("/v1/audit", headers=admin_headers, params={"action": "price.set"}).json()
    assert audit["items"][0]["target_id"] == "openai/gpt-4o"
    assert audit["items"][0]["after"]["price_version"] == "custom:negotiated-2026"
    assert client.delete("/v1/prices/openai/gpt-4o", headers=admin_headers).status_code == 204
    txn = client.post("/v1/transactions", json={"usage": USAGE}, headers=bearer(key)).json()["transaction"]
    assert txn["amount_usd"] == GPT4O


def test_unknown_model_is_refused_never_zero(runtime: Runtime, client: TestClient) -> None:
    key = make_agent(runtime.ledger, "llm")
    usage = {"model": "house-model-7b", "input_tokens": 1000, "output_tokens": 10}
    refused = client.post("/v1/transactions", json={"usage": usage}, headers=bearer(key))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "price_unknown"
    settled = settle_with_usage(client, key, usage)
    assert settled.status_code == 422 and settled.json()["error"]["code"] == "price_unknown"
    assert runtime.ledger.view("llm")["spend"]["daily"] == "0.000000"


def test_any_provider_price_and_bad_prices(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    key = make_agent(runtime.ledger, "llm")
    created = client.post(
        "/v1/prices",
        json={"model": "house-model-7b", "input_per_mtok": "0.5", "output_per_mtok": "1.5"},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    usage = {"model": "house-model-7b", "input_tokens": 2_000_000, "output_tokens": 1_000_000}
    txn = client.post("/v1/transactions", json={"usage": usage}, headers=bearer(key)).json()["transaction"]
    assert txn["amount_usd"] == "2.500000" and txn["price_version"] == "custom:custom"
    bad = client.put(
        "/v1/prices/x/y", json={"input_per_mtok": "-1", "output_per_mtok": "1"}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert (
        client.put(
            "/v1/prices/x/y", json={"input_per_mtok": "1", "output_per_mtok": "1"}, headers=bearer(key)
        ).status_code
        == 403
    )


def test_fallback_price_from_settings(settings: Settings, clock: FrozenClock) -> None:
    runtime = build_runtime(
        settings.model_copy(update={"llm_fallback_price": {"input": "10", "output": "20"}}),
        clock=clock,
        migrate=False,
    )
    try:
        make_agent(runtime.ledger, "llm")
        from spendwarden.events import SpendEvent, TokenUsage
        from spendwarden.ledger.pricing import priced

        event = SpendEvent(
            agent_id="llm", amount=0, model="house-model-7b", usage=TokenUsage(input=1000, output=1000)
        )
        out = priced(runtime.ledger.core, event, None, clock.now())
        assert out.amount == 30_000 and out.price_version == "fallback:settings"
    finally:
        runtime.close()


def test_other_replica_sees_a_new_price_within_its_check_interval(
    runtime: Runtime,
    settings: Settings,
    clock: FrozenClock,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    other = build_runtime(settings, clock=clock, migrate=False)
    try:
        from spendwarden.events import TokenUsage

        usage = TokenUsage(input=1_000_000, output=0)
        assert catalog_of(other)("openai", "gpt-4o", usage, clock.now())[0] == 2_500_000
        catalog_of(other).check_every = 3600  # a slow machine must not make the next check due
        client.put(
            "/v1/prices/openai/gpt-4o",
            json={"input_per_mtok": "1", "output_per_mtok": "1"},
            headers=admin_headers,
        )
        assert catalog_of(other)("openai", "gpt-4o", usage, clock.now())[0] == 2_500_000  # still cached
        catalog_of(other).check_every = 0
        assert catalog_of(other)("openai", "gpt-4o", usage, clock.now()) == (1_000_000, "custom:custom")
    finally:
        other.close()


@pytest.mark.parametrize("body", [{"input_per_mtok": "1"}, {"input_per_mtok": "x", "output_per_mtok": "1"}])
def test_price_body_is_validated(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str], body: dict[str, str]
) -> None:
    assert client.put("/v1/prices/openai/gpt-4o", json=body, headers=admin_headers).status_code == 422
