"""Inbound rails over HTTP: Stripe (signed with the stripe package), x402 (x402 types), L402."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from x402.schemas import PaymentPayload, PaymentRequirements, ResourceInfo, SettleResponse

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.ledger.admin import create_token
from spendwarden.runtime import Runtime, build_runtime
from tests.factories import bearer, make_agent

SECRET, OLD_SECRET = "whsec_current_0123456789", "whsec_previous_0123456789"
BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
PAYER = "0x1111111111111111111111111111111111111111"
SELLER = "0x2222222222222222222222222222222222222222"
TX = "0x" + "ab" * 32


@pytest.fixture
def rt(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    configured = settings.model_copy(
        update={"stripe_webhook_secret": f"{SECRET}, {OLD_SECRET}", "l402_btc_usd": "100000"}
    )
    runtime = build_runtime(configured, clock=clock, migrate=False)
    yield runtime
    runtime.close()


@pytest.fixture
def api(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt, run_workers=False)) as c:
        yield c


def stripe_post(
    api: TestClient, event: dict[str, Any], *, secret: str = SECRET, at: int, header: str | None = None
) -> Any:
    payload = json.dumps(event)
    sig = (
        header
        if header is not None
        else stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=at)
    )
    headers = {"Content-Type": "application/json"}
    if sig:
        headers["Stripe-Signature"] = sig
    return api.post("/v1/webhooks/stripe", content=payload, headers=headers)


def payment_intent_event(event_id: str = "evt_1", amount: int = 1234, **meta: str) -> dict[str, Any]:
    obj = {
        "id": "pi_1", "object": "payment_intent", "amount": amount, "amount_received": amount,
        "currency": "usd", "customer": "cus_A", "created": 1_795_431_600, "metadata": meta,
    }  # fmt: skip
    return {"id": event_id, "object": "event", "type": "payment_intent.succeeded", "created": 1_795_431_600,
            "pending_webhooks": 1, "data": {"object": obj}}  # fmt: skip


def test_stripe_event_recorded_once_with_mapping(
    rt: Runtime, api: TestClient, clock: FrozenClock, admin_headers: dict[str, str]
) -> None:
    now = int(clock.now().timestamp())
    make_agent(rt.ledger, "buyer")
    unmapped = stripe_post(api, payment_intent_event(), at=now)
    assert unmapped.status_code == 422 and unmapped.json()["error"]["code"] == "unknown_agent"
    put = api.put("/v1/ingest/stripe-agents/cus_A", json={"agent_id": "buyer"}, headers=admin_headers)
    assert put.status_code == 200, put.text
    first = stripe_post(api, payment_intent_event(), at=now)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False and len(first.json()["transactions"]) == 1
    redelivered = payment_intent_event()
    redelivered["pending_webhooks"] = 2  # Stripe changes this between deliveries
    again = stripe_post(api, redelivered, secret=OLD_SECRET, at=now + 60)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    forged_replay = stripe_post(api, payment_intent_event(amount=999_999), at=now)
    assert forged_replay.status_code == 409
    assert forged_replay.json()["error"]["code"] == "stripe_event_conflict"
    assert rt.ledger.view("buyer")["spend"]["daily"] == "12.340000"


def test_stripe_signature_failures(rt: Runtime, api: TestClient, clock: FrozenClock) -> None:
    now = int(clock.now().timestamp())
    event = payment_intent_event(spendwarden_agent="buyer")
    reasons = {
        "missing": stripe_post(api, event, at=now, header=""),
        "forged": stripe_post(api, event, secret="whsec_attacker_000000000", at=now),
        "stale": stripe_post(api, event, at=now - 301),
        "garbage": stripe_post(api, event, at=now, header="nonsense"),
    }
    for name, answer in reasons.items():
        assert answer.status_code == 400, name
        assert answer.json()["error"]["code"] == "signature_invalid", name
    assert {name: a.json()["error"]["details"]["reason"] for name, a in reasons.items()} == {
        "missing": "missing_header",
        "forged": "no_matching_signature",
        "stale": "timestamp_outside_tolerance",
        "garbage": "malformed_header",
    }
    with rt.store.read() as conn:
        from spendwarden.db import queries_ingest as qi

        assert qi.get_stripe_event(conn, "evt_1") is None


def test_stripe_without_secret_refuses(runtime: Runtime, client: TestClient, clock: FrozenClock) -> None:
    answer = stripe_post(client, payment_intent_event(), at=int(clock.now().timestamp()))
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["reason"] == "no_secret_configured"


def x402_record(success: bool = True, amount: str = "1500000") -> dict[str, Any]:
    req = PaymentRequirements(
        scheme="exact", network="eip155:8453", asset=BASE_USDC, amount=amount, pay_to=SELLER,
        max_timeout_seconds=60, extra={"name": "USD Coin", "version": "2"},
    )  # fmt: skip
    payload = PaymentPayload(
        payload={
            "signature": "0x" + "cd" * 65,
            "authorization": {"from": PAYER, "to": SELLER, "value": amount},
        },
        accepted=req,
        resource=ResourceInfo(url="https://api.weather.dev/v1/forecast"),
    )
    settle = SettleResponse(
        success=success,
        payer=PAYER,
        transaction=TX if success else "",
        network="eip155:8453",
        error_reason=None if success else "insufficient_funds",
    )
    parts = {"paymentRequirements": req, "paymentPayload": payload, "settleResponse": settle}
    return {key: value.model_dump(mode="json", by_alias=True) for key, value in parts.items()}


def test_x402_settlement_with_address_mapping(
    rt: Runtime, api: TestClient, admin_headers: dict[str, str]
) -> None:
    make_agent(rt.ledger, "buyer")
    unmapped = api.post("/v1/webhooks/x402", json=x402_record(), headers=admin_headers)
    assert unmapped.status_code == 422 and unmapped.json()["error"]["code"] == "unknown_agent"
    ghost = api.post(
        "/v1/ingest/addresses", json={"address": PAYER, "agent_id": "ghost"}, headers=admin_headers
    )
    assert ghost.status_code == 404
    mapped = api.post(
        "/v1/ingest/addresses",
        json={"address": PAYER.upper().replace("0X", "0x"), "agent_id": "buyer"},
        headers=admin_headers,
    )
    assert mapped.status_code == 201, mapped.text
    first = api.post("/v1/webhooks/x402", json=x402_record(), headers=admin_headers)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False and first.json()["external_id"] == f"eip155:8453:{TX}"
    assert (
        api.post("/v1/webhooks/x402", json=x402_record(), headers=admin_headers).json()["duplicate"] is True
    )
    failed = api.post("/v1/webhooks/x402", json=x402_record(success=False, amount="7"), headers=admin_headers)
    assert failed.status_code == 200, failed.text
    assert rt.ledger.view("buyer")["spend"]["daily"] == "1.500000"
    rows = api.get("/v1/transactions", params={"agent_id": "buyer"}, headers=admin_headers).json()["items"]
    assert sorted(r["status"] for r in rows) == ["failed", "settled"]


def test_x402_and_l402_need_a_token_of_their_source(rt: Runtime, api: TestClient) -> None:
    make_agent(rt.ledger, "buyer")
    l402_token = create_token(rt.ledger.core, "ingest", "source:l402", actor="test")
    assert api.post("/v1/webhooks/x402", json=x402_record()).status_code == 401
    wrong = api.post("/v1/webhooks/x402", json=x402_record(), headers=bearer(l402_token))
    assert wrong.status_code == 403
    invoice = {"payment_hash": "ab" * 32, "service": "api.example.com", "price_sats": 500,
               "settled_at": "2026-11-23T11:59:00Z", "agent_id": "buyer"}  # fmt: skip
    paid = api.post("/v1/webhooks/l402", json=invoice, headers=bearer(l402_token))
    assert paid.status_code == 200, paid.text
    assert rt.ledger.view("buyer")["spend"]["daily"] == "0.500000"  # 500 sats at the configured 100k
    batch = [
        invoice,
        {**invoice, "payment_hash": "cd" * 32, "btc_usd": "50000"},
        {**invoice, "payment_hash": "x"},
    ]
    answer = api.post("/v1/webhooks/l402", json=batch, headers=bearer(l402_token)).json()
    assert [r["status"] for r in answer["results"]] == ["duplicate", "accepted", "rejected"]
    assert rt.ledger.view("buyer")["spend"]["daily"] == "0.750000"
