from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import ValidationFailed
from spendwarden.ingest.l402 import map_l402_invoice

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HASH = "9f" * 32


def invoice(**fields: Any) -> dict[str, Any]:
    values = {
        "payment_hash": HASH,
        "service": "lightning.weather.dev",
        "price_sats": 250,
        "settled_at": "2025-06-01T11:58:00Z",
        "btc_usd": "97000.12",
        "agent_id": "ln-bot",
    }
    return {**values, **fields}


def test_paid_invoice() -> None:
    entry = map_l402_invoice(invoice(), now=NOW)
    assert entry.amount == 242_500  # 250 sats * 97000.12 / 1e8 = 0.2425003 USD
    assert (entry.rail, entry.source, entry.kind, entry.status) == ("l402", "l402", "payment", "settled")
    assert entry.external_id == HASH
    assert entry.vendor == "lightning.weather.dev"
    assert (entry.original_amount, entry.original_currency) == ("250", "SAT")
    assert entry.occurred_at == datetime(2025, 6, 1, 11, 58, tzinfo=UTC)
    assert entry.metadata == {"btc_usd": "97000.12"}


def test_half_a_micro_rounds_up() -> None:
    assert map_l402_invoice(invoice(price_sats=1, btc_usd=50), now=NOW).amount == 1  # 0.5 micro
    assert map_l402_invoice(invoice(price_sats=1, btc_usd="49.99"), now=NOW).amount == 0


def test_amount_msat_may_carry_fractions_of_a_sat() -> None:
    entry = map_l402_invoice(invoice(price_sats=None, amount_msat=1500, btc_usd="100000"), now=NOW)
    assert entry.amount == 1_500
    assert entry.original_amount == "1.5"


def test_matching_sats_and_msat_are_fine() -> None:
    assert map_l402_invoice(invoice(amount_msat=250_000), now=NOW).amount == 242_500


def test_default_rate_is_used_when_the_record_has_none() -> None:
    entry = map_l402_invoice(invoice(btc_usd=None), now=NOW, default_btc_usd=Decimal("100000"))
    assert entry.amount == 250_000
    record_rate = map_l402_invoice(invoice(btc_usd="200000"), now=NOW, default_btc_usd="100000")
    assert record_rate.amount == 500_000


def test_missing_rate_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_l402_invoice(invoice(btc_usd=None), now=NOW)
    assert caught.value.code == "missing_rate"
    assert caught.value.details == {"field": "btc_usd"}


def test_uppercase_payment_hash_is_normalised() -> None:
    assert map_l402_invoice(invoice(payment_hash=HASH.upper()), now=NOW).external_id == HASH


def test_agent_from_mapping() -> None:
    entry = map_l402_invoice(
        invoice(agent_id=None), now=NOW, agent_for=lambda record: "svc-" + record["service"][:4]
    )
    assert entry.agent_id == "svc-ligh"


def test_unknown_agent() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_l402_invoice(invoice(agent_id=None), now=NOW, agent_for=lambda record: None)
    assert caught.value.code == "unknown_agent"


def test_failed_payment_is_recorded_as_failed() -> None:
    assert map_l402_invoice(invoice(status="failed"), now=NOW).status == "failed"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"payment_hash": "abc"}, "payment_hash"),
        ({"payment_hash": "zz" * 32}, "payment_hash"),
        ({"payment_hash": None}, "payment_hash"),
        ({"price_sats": -1}, "price_sats"),
        ({"price_sats": 2.5}, "price_sats"),
        ({"price_sats": True}, "price_sats"),
        ({"price_sats": 10**16}, "price_sats"),
        ({"price_sats": None}, "price_sats"),
        ({"amount_msat": 1}, "amount_msat"),
        ({"btc_usd": "-5"}, "btc_usd"),
        ({"btc_usd": "0"}, "btc_usd"),
        ({"btc_usd": "NaN"}, "btc_usd"),
        ({"btc_usd": "1e12"}, "btc_usd"),
        ({"btc_usd": [1]}, "btc_usd"),
        ({"service": ""}, "service"),
        ({"settled_at": None}, "settled_at"),
        ({"settled_at": "2025-06-01T11:58:00"}, "settled_at"),
        ({"settled_at": "2025-06-01T12:06:00Z"}, "settled_at"),
        ({"agent_id": "Not Slug"}, "agent_id"),
        ({"status": "pending"}, "status"),
        ({"status": ["paid"]}, "status"),
    ],
)
def test_bad_invoices(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_l402_invoice(invoice(**fields), now=NOW)
    assert caught.value.details["field"] == field


def test_absurd_usd_value_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        map_l402_invoice(invoice(price_sats=21_000_000 * 100_000_000, btc_usd="100000000"), now=NOW)


def test_settled_at_as_unix_seconds() -> None:
    assert map_l402_invoice(invoice(settled_at=1_748_779_000), now=NOW).occurred_at == datetime.fromtimestamp(
        1_748_779_000, UTC
    )


@given(
    st.integers(0, 10**12),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**7), places=2, allow_nan=False),
)
def test_amounts_are_exact(sats: int, rate: Decimal) -> None:
    entry = map_l402_invoice(invoice(price_sats=sats, btc_usd=str(rate)), now=NOW)
    exact = Fraction(sats) * Fraction(rate) * 1_000_000 / 100_000_000
    whole, rest = divmod(exact.numerator, exact.denominator)
    assert entry.amount == whole + (1 if 2 * rest >= exact.denominator else 0)
    assert entry.original_amount == str(sats)


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=70), st.lists(st.none())
)


@given(
    st.dictionaries(
        st.sampled_from([*invoice(), "amount_msat", "status", "endpoint", "task_id"]), json_values
    )
)
def test_garbage_gives_validation_errors(fields: dict[str, Any]) -> None:
    try:
        map_l402_invoice(invoice(**fields), now=NOW, default_btc_usd="60000")
    except ValidationFailed:
        pass
