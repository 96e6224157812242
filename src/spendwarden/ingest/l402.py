"""Paid L402 invoices (Lightning) as ledger entries.

A record names the invoice and what it bought::

    {"payment_hash": "<64 hex>", "service": "api.example.com", "price_sats": 250,
     "settled_at": "2025-01-01T00:00:00Z", "btc_usd": "97000.12", "agent_id": "researcher"}

``amount_msat`` may replace ``price_sats``. The USD amount is ``sats * btc_usd / 1e8``,
computed exactly with Decimal and rounded half up to whole micros; the sats themselves
stay in ``original_amount`` (currency ``SAT``) so the row can be re-valued later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from spendwarden.events import SpendEvent
from spendwarden.ingest.common import (
    InvalidField,
    UnknownAgent,
    as_mapping,
    check_int,
    check_slug,
    check_str,
    decimal_of,
    invalid,
    micros_half_up,
    optional_str,
    parse_timestamp,
    require,
)

PAYMENT_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_SATS = 21_000_000 * 100_000_000
MAX_BTC_USD = Decimal(10) ** 9
SATS_PER_BTC = Decimal(100_000_000)
STATUSES = {"paid": "settled", "settled": "settled", "failed": "failed"}


class MissingRate(InvalidField):
    code = "missing_rate"
    default_message = "No BTC/USD rate is known for this invoice."


def map_l402_invoice(
    record: object,
    *,
    now: datetime,
    default_btc_usd: Decimal | str | None = None,
    agent_for: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> SpendEvent:
    """Map one invoice; the agent is ``agent_id`` in the record or ``agent_for(record)``."""
    data = as_mapping(record, "record")
    sats = _sats(data)
    rate = _rate(data, default_btc_usd)
    return SpendEvent(
        agent_id=_agent(data, agent_for),
        amount=micros_half_up(sats * rate / SATS_PER_BTC, field="price_sats"),
        rail="l402",
        vendor=check_str("service", require(data, "service")),
        endpoint=optional_str(data, "endpoint", max_len=1024),
        kind="payment",
        status=_status(data),
        task_id=optional_str(data, "task_id"),
        source="l402",
        external_id=payment_hash(require(data, "payment_hash")),
        occurred_at=parse_timestamp("settled_at", require(data, "settled_at"), now=now),
        original_amount=format(sats.normalize(), "f"),
        original_currency="SAT",
        metadata={"btc_usd": format(rate, "f")},
    )


def payment_hash(value: object) -> str:
    """The invoice's payment hash: 32 bytes as hex, lowercased so case never splits one invoice in two."""
    text = value.lower() if isinstance(value, str) else ""
    if not PAYMENT_HASH_RE.match(text):
        raise invalid("payment_hash", "must be 64 hexadecimal characters", value=str(value)[:80])
    return text


def _sats(data: Mapping[str, Any]) -> Decimal:
    """``price_sats`` or ``amount_msat`` (which may carry a fraction of a sat); both must agree."""
    sats = data.get("price_sats")
    msat = data.get("amount_msat")
    if sats is None and msat is None:
        raise invalid("price_sats", "or amount_msat is required")
    from_sats = None if sats is None else Decimal(check_int("price_sats", sats, maximum=MAX_SATS))
    from_msat = (
        None if msat is None else Decimal(check_int("amount_msat", msat, maximum=MAX_SATS * 1000)) / 1000
    )
    if from_sats is not None and from_msat is not None and from_sats != from_msat:
        raise invalid("amount_msat", "disagrees with price_sats", price_sats=sats, amount_msat=msat)
    result = from_sats if from_sats is not None else from_msat
    assert result is not None
    return result


def _rate(data: Mapping[str, Any], default: Decimal | str | None) -> Decimal:
    raw = data.get("btc_usd")
    raw = default if raw is None else raw
    if raw is None:
        raise MissingRate(
            "No BTC/USD rate: send btc_usd with the invoice or configure a default.", field="btc_usd"
        )
    rate = decimal_of("btc_usd", raw)
    if not 0 < rate <= MAX_BTC_USD:
        raise invalid("btc_usd", "must be a positive USD price of one bitcoin", value=str(raw)[:80])
    return rate


def _agent(data: Mapping[str, Any], agent_for: Callable[[Mapping[str, Any]], str | None] | None) -> str:
    agent = data.get("agent_id")
    if agent is None and agent_for is not None:
        agent = agent_for(data)
    if agent is None:
        raise UnknownAgent(
            "No agent for this L402 invoice: send agent_id or map its service.", field="agent_id"
        )
    return check_slug("agent_id", agent)


def _status(data: Mapping[str, Any]) -> str:
    status = data.get("status") or "paid"
    if not isinstance(status, str) or status not in STATUSES:
        raise invalid("status", f"must be one of {', '.join(STATUSES)}", value=str(status)[:32])
    return STATUSES[status]
