from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from x402.schemas import PaymentPayload, PaymentRequirements, ResourceInfo, SettleResponse
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from spendwarden.errors import ValidationFailed
from spendwarden.ingest.x402 import Asset, map_x402_settlement

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
SEPOLIA_USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
PAYER = "0x1111111111111111111111111111111111111111"
SELLER = "0x2222222222222222222222222222222222222222"
PEER = "0x3333333333333333333333333333333333333333"
TX = "0xABCDEF" + "0" * 58
ADDRESSES = {PAYER.lower(): "buyer-bot", PEER.lower(): "peer-bot"}


def lookup(address: str) -> str | None:
    return ADDRESSES.get(address.lower())


def requirements_v2(**fields: Any) -> PaymentRequirements:
    values: dict[str, Any] = {
        "scheme": "exact",
        "network": "eip155:8453",
        "asset": BASE_USDC,
        "amount": "1500000",
        "pay_to": SELLER,
        "max_timeout_seconds": 60,
        "extra": {"name": "USD Coin", "version": "2"},
    }
    return PaymentRequirements(**{**values, **fields})


def evm_payload(requirements: PaymentRequirements) -> PaymentPayload:
    authorization = {
        "from": PAYER,
        "to": requirements.pay_to,
        "value": requirements.amount,
        "validAfter": "0",
        "validBefore": "1748779800",
        "nonce": "0x" + "ab" * 32,
    }
    return PaymentPayload(
        payload={"signature": "0x" + "cd" * 65, "authorization": authorization},
        accepted=requirements,
        resource=ResourceInfo(url="https://api.weather.dev/v1/forecast?city=Oslo"),
    )


def settlement(**fields: Any) -> SettleResponse:
    values: dict[str, Any] = {
        "success": True,
        "payer": PAYER,
        "transaction": TX,
        "network": "eip155:8453",
        "amount": "1500000",
    }
    return SettleResponse(**{**values, **fields})


def v2_record(req: PaymentRequirements | None = None, **settle: Any) -> dict[str, Any]:
    req = req or requirements_v2()
    return {
        "paymentPayload": evm_payload(req),
        "paymentRequirements": req,
        "settleResponse": settlement(**settle),
    }


def test_v2_settlement_with_sdk_objects() -> None:
    entry = map_x402_settlement(v2_record(), agent_for_address=lookup, now=NOW)
    assert entry.agent_id == "buyer-bot"
    assert entry.amount == 1_500_000
    assert (entry.rail, entry.source, entry.kind, entry.status) == ("x402", "x402", "payment", "settled")
    assert entry.external_id == f"eip155:8453:{TX.lower()}"
    assert entry.vendor == "api.weather.dev"
    assert entry.endpoint == "https://api.weather.dev/v1/forecast?city=Oslo"
    assert (entry.original_amount, entry.original_currency) == ("1.500000", "USDC")
    assert entry.occurred_at == NOW
    assert entry.metadata["x402_version"] == 2


def test_v2_settlement_as_json_dicts() -> None:
    record = {key: value.model_dump(mode="json") for key, value in v2_record().items()}
    record["occurredAt"] = "2025-06-01T11:59:00Z"
    entry = map_x402_settlement(record, agent_for_address=lookup, now=NOW)
    from_objects = map_x402_settlement(v2_record(), agent_for_address=lookup, now=NOW)
    assert entry == replace(from_objects, occurred_at=datetime(2025, 6, 1, 11, 59, tzinfo=UTC))


def test_snake_case_record_keys_and_requirements_from_payload() -> None:
    req = requirements_v2()
    record = {"payment_payload": evm_payload(req), "settle_response": settlement()}
    assert map_x402_settlement(record, agent_for_address=lookup, now=NOW).amount == 1_500_000


def test_v1_settlement_uses_legacy_network_names() -> None:
    req = PaymentRequirementsV1(
        scheme="exact",
        network="base-sepolia",
        max_amount_required="250000",
        resource="https://paid.example.org/report",
        pay_to=SELLER,
        max_timeout_seconds=60,
        asset=SEPOLIA_USDC,
    )
    payload = PaymentPayloadV1(
        scheme="exact", network="base-sepolia", payload={"authorization": {"from": PAYER}}
    )
    settle = SettleResponse(success=True, transaction=TX, network="base-sepolia")
    record = {"paymentPayload": payload, "paymentRequirements": req, "settleResponse": settle}
    entry = map_x402_settlement(record, agent_for_address=lookup, now=NOW)
    assert entry.amount == 250_000
    assert entry.external_id == f"eip155:84532:{TX.lower()}"
    assert entry.vendor == "paid.example.org"
    assert entry.agent_id == "buyer-bot"
    assert entry.metadata["x402_version"] == 1


def test_settled_amount_wins_over_the_requirement() -> None:
    entry = map_x402_settlement(v2_record(amount="900000"), agent_for_address=lookup, now=NOW)
    assert entry.amount == 900_000


def test_agent_to_agent_payment_is_a_transfer() -> None:
    entry = map_x402_settlement(v2_record(requirements_v2(pay_to=PEER)), agent_for_address=lookup, now=NOW)
    assert (entry.kind, entry.counterparty_agent_id) == ("transfer", "peer-bot")


def test_failed_settlement_is_kept_with_its_amount() -> None:
    record = v2_record(success=False, transaction="", error_reason="insufficient_funds")
    entry = map_x402_settlement(record, agent_for_address=lookup, now=NOW)
    assert (entry.status, entry.amount) == ("failed", 1_500_000)
    assert entry.external_id is not None
    assert entry.external_id.startswith("eip155:8453:failed-")
    assert entry.external_id == map_x402_settlement(record, agent_for_address=lookup, now=NOW).external_id
    assert entry.metadata["error_reason"] == "insufficient_funds"


def test_vendor_falls_back_to_pay_to() -> None:
    req = requirements_v2()
    record = {"paymentRequirements": req, "settleResponse": settlement()}
    assert map_x402_settlement(record, agent_for_address=lookup, now=NOW).vendor == SELLER


def test_unknown_payer_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_x402_settlement(v2_record(payer=SELLER), agent_for_address=lookup, now=NOW)
    assert caught.value.code == "unknown_agent"
    assert caught.value.details["address"] == SELLER


def test_unknown_asset_is_refused() -> None:
    req = requirements_v2(asset="0x9999999999999999999999999999999999999999", extra={})
    with pytest.raises(ValidationFailed) as caught:
        map_x402_settlement(v2_record(req), agent_for_address=lookup, now=NOW)
    assert caught.value.details["field"] == "paymentRequirements.asset"


def test_unknown_asset_with_decimals_rounds_half_up() -> None:
    req = requirements_v2(
        asset="0x9999999999999999999999999999999999999999", extra={"decimals": 18, "name": "DAI"}
    )
    entry = map_x402_settlement(v2_record(req, amount="1500000500000"), agent_for_address=lookup, now=NOW)
    assert entry.amount == 2  # 0.0000015000005 tokens -> 1.5000005 micros -> 2
    assert (entry.original_amount, entry.original_currency) == ("0.000001500000500000", "DAI")


def test_configured_assets() -> None:
    token = "0x4444444444444444444444444444444444444444"
    req = requirements_v2(asset=token, network="eip155:10")
    assets = {("eip155:10", token): Asset("USDC", 6)}
    record = v2_record(req, network="eip155:10")
    assert map_x402_settlement(record, agent_for_address=lookup, now=NOW, assets=assets).amount == 1_500_000


@pytest.mark.parametrize(
    "settle",
    [
        {"amount": "-5"},
        {"amount": "1.5"},
        {"amount": "1" * 61},
        {"amount": "²"},
        {"success": True, "transaction": ""},
        {"payer": None},
    ],
)
def test_bad_settlements(settle: dict[str, Any]) -> None:
    req = requirements_v2()
    record: dict[str, Any] = {
        "paymentRequirements": req,
        "settleResponse": {**settlement().model_dump(), **settle},
    }
    with pytest.raises(ValidationFailed):
        map_x402_settlement(record, agent_for_address=lookup, now=NOW)


def test_future_timestamp_is_refused() -> None:
    record: dict[str, Any] = {**v2_record(), "occurredAt": "2025-06-01T13:00:00Z"}
    with pytest.raises(ValidationFailed):
        map_x402_settlement(record, agent_for_address=lookup, now=NOW)


@given(st.integers(0, 10**15))
def test_usdc_atomic_units_are_micros(atomic: int) -> None:
    record = v2_record(amount=str(atomic))
    assert map_x402_settlement(record, agent_for_address=lookup, now=NOW).amount == atomic


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
SETTLE_KEYS = ["success", "payer", "transaction", "network", "amount", "errorReason"]
REQ_KEYS = ["network", "asset", "amount", "payTo", "maxAmountRequired", "resource", "extra", "scheme"]


@given(
    st.dictionaries(st.sampled_from(SETTLE_KEYS), json_values),
    st.dictionaries(st.sampled_from(REQ_KEYS), json_values),
    st.dictionaries(st.sampled_from(["resource", "occurredAt", "paymentPayload"]), json_values),
)
def test_garbage_records_give_validation_errors(
    settle: dict[str, Any], req: dict[str, Any], rest: dict[str, Any]
) -> None:
    record = {**rest, "settleResponse": settle, "paymentRequirements": req}
    try:
        entry = map_x402_settlement(record, agent_for_address=lambda address: "buyer-bot", now=NOW)
    except ValidationFailed:
        return
    assert entry.amount >= 0


@given(json_values)
def test_garbage_top_level_gives_validation_errors(raw: object) -> None:
    try:
        map_x402_settlement(raw, agent_for_address=lookup, now=NOW)
    except ValidationFailed:
        pass
