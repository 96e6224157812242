from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import SignatureInvalid, ValidationFailed
from spendwarden.events import SpendEvent
from spendwarden.ingest.stripe_events import map_stripe_event, verify_stripe

SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
T0 = 1_748_779_200  # 2025-06-01T12:00:00Z
CUSTOMERS = {"cus_A": "buyer-a", "ich_B": "card-agent"}


def by_customer(obj: Mapping[str, Any]) -> str | None:
    return CUSTOMERS.get(obj.get("customer") or obj.get("cardholder") or "")


def nobody(obj: Mapping[str, Any]) -> str | None:
    return None


def signed(event: dict[str, Any], secret: str = SECRET, at: int = T0) -> tuple[bytes, str]:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=at)
    return payload.encode(), header


def stripe_event(kind: str, obj: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "object": "event",
        "type": kind,
        "created": T0,
        "livemode": False,
        "data": {"object": obj, **data},
    }


def payment_intent(**fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 1234,
        "amount_received": 1234,
        "currency": "usd",
        "customer": "cus_A",
        "created": T0 - 5,
        "metadata": {},
        **fields,
    }


def charge(**fields: Any) -> dict[str, Any]:
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": "cus_A",
        "payment_intent": None,
        "created": T0,
        "metadata": {"spendwarden_agent": "ops-bot", "vendor": "acme"},
        **fields,
    }


# -- signatures ---------------------------------------------------------------


def test_valid_signature_returns_the_event() -> None:
    event = stripe_event("payment_intent.succeeded", payment_intent())
    payload, header = signed(event)
    assert verify_stripe(payload, header, [SECRET], now=T0 + 10) == event


def test_agrees_with_stripe_construct_event() -> None:
    payload, header = signed(stripe_event("charge.succeeded", charge()), at=int(time.time()))
    assert (
        stripe.Webhook.construct_event(payload, header, SECRET).id
        == verify_stripe(payload, header, [SECRET])["id"]
    )


def test_rotated_secret_is_accepted() -> None:
    payload, header = signed(stripe_event("charge.succeeded", charge()), secret=OLD_SECRET)
    assert verify_stripe(payload, header, [SECRET, OLD_SECRET], now=T0)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p, h: (p, None), "missing_header"),
        (lambda p, h: (p, ""), "missing_header"),
        (lambda p, h: (p, "v1=abc"), "malformed_header"),
        (lambda p, h: (p, "t=abc,v1=abc"), "malformed_header"),
        (lambda p, h: (p, h.replace("v1=", "v0=")), "malformed_header"),
        (lambda p, h: (p.replace(b"1234", b"9999"), h), "no_matching_signature"),
        (lambda p, h: (p, signed(json.loads(p), secret="whsec_attacker")[1]), "no_matching_signature"),
        (lambda p, h: (p, h.replace(f"t={T0}", f"t={T0 + 1}")), "no_matching_signature"),
    ],
)
def test_bad_signatures(mutate: Any, reason: str) -> None:
    payload, header = mutate(*signed(stripe_event("payment_intent.succeeded", payment_intent())))
    with pytest.raises(SignatureInvalid) as caught:
        verify_stripe(payload, header, [SECRET], now=T0)
    assert caught.value.details["reason"] == reason


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stale_or_future_signature_is_refused(skew: int) -> None:
    payload, header = signed(stripe_event("charge.succeeded", charge()))
    with pytest.raises(SignatureInvalid) as caught:
        verify_stripe(payload, header, [SECRET], now=T0 + skew)
    assert caught.value.details["reason"] == "timestamp_outside_tolerance"
    assert verify_stripe(payload, header, [SECRET], now=T0 + 299)["id"] == "evt_1"


def test_no_secrets_means_no_match() -> None:
    payload, header = signed(stripe_event("charge.succeeded", charge()))
    with pytest.raises(SignatureInvalid):
        verify_stripe(payload, header, ["", " "], now=T0)


def test_signed_body_that_is_not_an_event() -> None:
    payload = b"[1, 2]"
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET, timestamp=T0)
    with pytest.raises(ValidationFailed):
        verify_stripe(payload, header, [SECRET], now=T0)


# -- mapping ------------------------------------------------------------------


def test_payment_intent_succeeded() -> None:
    [entry] = map_stripe_event(stripe_event("payment_intent.succeeded", payment_intent()), by_customer)
    assert entry.agent_id == "buyer-a"
    assert entry.amount == 12_340_000
    assert (entry.rail, entry.source, entry.kind, entry.status) == ("stripe", "stripe", "payment", "settled")
    assert entry.external_id == "pi_1"
    assert entry.occurred_at == datetime.fromtimestamp(T0 - 5, UTC)
    assert entry.metadata["stripe_event_id"] == "evt_1"


def test_stripe_sdk_event_objects_are_accepted() -> None:
    raw = stripe_event("payment_intent.succeeded", payment_intent())
    sdk_event = stripe.Event.construct_from(raw, "sk_test_123")
    assert map_stripe_event(sdk_event, by_customer) == map_stripe_event(raw, by_customer)


def test_agent_from_metadata_wins() -> None:
    pi = payment_intent(metadata={"agent_id": "meta-agent"})
    assert (
        map_stripe_event(stripe_event("payment_intent.succeeded", pi), by_customer)[0].agent_id
        == "meta-agent"
    )


def test_charge_of_a_payment_intent_is_not_counted_twice() -> None:
    assert (
        map_stripe_event(stripe_event("charge.succeeded", charge(payment_intent="pi_1")), by_customer) == []
    )


def test_direct_charge_is_counted() -> None:
    [entry] = map_stripe_event(stripe_event("charge.succeeded", charge()), nobody)
    assert (entry.agent_id, entry.amount, entry.vendor, entry.external_id) == (
        "ops-bot",
        50_000_000,
        "acme",
        "ch_1",
    )


def test_partial_refunds_become_separate_entries() -> None:
    first = stripe_event(
        "charge.refunded", charge(amount_refunded=1000), previous_attributes={"amount_refunded": 0}
    )
    second = stripe_event(
        "charge.refunded", charge(amount_refunded=3000), previous_attributes={"amount_refunded": 1000}
    )
    [one] = map_stripe_event(first, nobody)
    [two] = map_stripe_event(second, nobody)
    assert (one.status, one.amount, one.external_id) == ("refunded", 10_000_000, "ch_1:refund:1000")
    assert (two.status, two.amount, two.external_id) == ("refunded", 20_000_000, "ch_1:refund:3000")


def test_issuing_transaction_is_card_spend() -> None:
    txn = {
        "id": "ipi_1",
        "object": "issuing.transaction",
        "amount": -2599,
        "currency": "usd",
        "type": "capture",
        "cardholder": "ich_B",
        "card": "ic_1",
        "authorization": "iauth_1",
        "merchant_data": {"name": "OPENAI *CHATGPT", "category": "computer_software_stores"},
        "created": T0,
        "metadata": {},
    }
    [entry] = map_stripe_event(stripe_event("issuing_transaction.created", txn), by_customer)
    assert (entry.agent_id, entry.amount, entry.rail, entry.status) == (
        "card-agent",
        25_990_000,
        "card",
        "settled",
    )
    assert entry.vendor == "OPENAI *CHATGPT"
    [refund] = map_stripe_event(
        stripe_event("issuing_transaction.created", {**txn, "id": "ipi_2", "amount": 500, "type": "refund"}),
        by_customer,
    )
    assert (refund.status, refund.amount, refund.external_id) == ("refunded", 5_000_000, "ipi_2")


def authorization(**fields: Any) -> dict[str, Any]:
    return {
        "id": "iauth_1",
        "object": "issuing.authorization",
        "amount": 700,
        "currency": "usd",
        "approved": True,
        "status": "pending",
        "cardholder": "ich_B",
        "merchant_data": {"name": "Anthropic"},
        "created": T0,
        "metadata": {},
        **fields,
    }


@pytest.mark.parametrize(
    "kind",
    ["issuing_authorization.created", "issuing_authorization.updated", "issuing_authorization.request"],
)
def test_approved_authorizations_are_holds_not_spend(kind: str) -> None:
    assert map_stripe_event(stripe_event(kind, authorization()), by_customer) == []


def test_declined_authorization_is_recorded_as_failed() -> None:
    declined = authorization(
        approved=False, status="closed", amount=0, pending_request=None, merchant_amount=700
    )
    declined["amount"] = 700
    [entry] = map_stripe_event(stripe_event("issuing_authorization.created", declined), by_customer)
    assert (entry.status, entry.amount, entry.rail, entry.external_id) == (
        "failed",
        7_000_000,
        "card",
        "iauth_1",
    )


def test_other_event_types_map_to_nothing() -> None:
    assert map_stripe_event(stripe_event("customer.created", {"id": "cus_A"}), nobody) == []


def test_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_stripe_event(
            stripe_event("payment_intent.succeeded", payment_intent(customer="cus_Z")), by_customer
        )
    assert caught.value.code == "unknown_agent"
    assert caught.value.details["customer"] == "cus_Z"


def test_bad_agent_id_from_mapping_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        map_stripe_event(stripe_event("payment_intent.succeeded", payment_intent()), lambda obj: "Not A Slug")


def test_non_usd_without_rate_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_stripe_event(
            stripe_event("payment_intent.succeeded", payment_intent(currency="eur")), by_customer
        )
    assert caught.value.code == "unsupported_currency"


@pytest.mark.parametrize(
    ("currency", "minor", "rate", "micros", "original"),
    [
        ("jpy", 500, "0.0064", 3_200_000, "500"),
        ("eur", 1999, "1.08", 21_589_200, "19.99"),
        ("kwd", 1500, "3.25", 4_875_000, "1.500"),
        ("eur", 1, "0.0000005", 0, "0.01"),
    ],
)
def test_foreign_currency_with_rate(currency: str, minor: int, rate: str, micros: int, original: str) -> None:
    pi = payment_intent(currency=currency, amount_received=minor)
    [entry] = map_stripe_event(
        stripe_event("payment_intent.succeeded", pi), by_customer, usd_rates={currency: rate}
    )
    assert entry.amount == micros
    assert (entry.original_amount, entry.original_currency) == (original, currency.upper())


def test_mapping_is_deterministic() -> None:
    event = stripe_event(
        "charge.refunded", charge(amount_refunded=10), previous_attributes={"amount_refunded": 4}
    )
    assert map_stripe_event(event, nobody) == map_stripe_event(json.loads(json.dumps(event)), nobody)


@pytest.mark.parametrize(
    "obj",
    [
        payment_intent(amount_received=-5),
        payment_intent(amount_received="12"),
        payment_intent(amount_received=10**20),
        payment_intent(currency=None),
        payment_intent(created="yesterday"),
        payment_intent(id=None),
    ],
)
def test_bad_objects(obj: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        map_stripe_event(stripe_event("payment_intent.succeeded", obj), by_customer)


@given(st.integers(0, 10**12))
def test_usd_cents_are_exact(cents: int) -> None:
    [entry] = map_stripe_event(
        stripe_event("payment_intent.succeeded", payment_intent(amount_received=cents)), by_customer
    )
    assert entry.amount == cents * 10_000


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
KINDS = ["payment_intent.succeeded", "charge.succeeded", "charge.refunded", "issuing_transaction.created"]


@given(
    st.sampled_from([*KINDS, "issuing_authorization.created"]),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "amount",
                "amount_received",
                "amount_refunded",
                "currency",
                "created",
                "metadata",
                "customer",
                "type",
                "approved",
                "pending_request",
                "merchant_data",
                "payment_intent",
            ]
        ),
        json_values,
    ),
)
def test_garbage_objects_give_validation_errors(kind: str, obj: dict[str, Any]) -> None:
    try:
        result = map_stripe_event(
            stripe_event(kind, obj, previous_attributes=obj.get("metadata")), by_customer
        )
    except ValidationFailed:
        return
    assert all(isinstance(entry, SpendEvent) and entry.amount >= 0 for entry in result)


@given(json_values)
def test_garbage_events_give_validation_errors(raw: object) -> None:
    try:
        map_stripe_event(raw, by_customer)  # type: ignore[arg-type]
    except ValidationFailed:
        pass


@given(st.binary(max_size=200), st.one_of(st.none(), st.text(max_size=80)))
def test_garbage_signatures_are_refused(payload: bytes, header: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        verify_stripe(payload, header, [SECRET], now=T0)


def test_rate_is_decimal_exact() -> None:
    pi = payment_intent(currency="eur", amount_received=3)
    [entry] = map_stripe_event(
        stripe_event("payment_intent.succeeded", pi), by_customer, usd_rates={"eur": Decimal("0.1666665")}
    )
    assert entry.amount == 5_000  # 0.03 * 0.1666665 = 0.004999995 -> half up
