"""x402 settlements (protocol v1 and v2) as ledger entries.

A record is what a facilitator or resource server saw when it settled a payment::

    {"paymentRequirements": {...}, "paymentPayload": {...}, "settleResponse": {...},
     "resource": "https://api.example.com/forecast", "occurredAt": "2025-01-01T00:00:00Z"}

Keys may also be snake_case, and each part may be the ``x402`` package's own pydantic
object. The payer is the spending agent; when ``payTo`` is an agent too, the entry is an
agent-to-agent ``transfer``. A failed settlement is still recorded (status ``failed``,
amount kept) because failure rates are a signal.

Amounts are the asset's atomic units. Only USD stablecoins are in the known-asset table,
each taken as 1 USD; USDC has 6 decimals, so its atomic unit *is* a micro-dollar.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from spendwarden.events import SpendEvent
from spendwarden.ingest.common import (
    UnknownAgent,
    as_mapping,
    check_int,
    check_slug,
    check_str,
    invalid,
    micros_half_up,
    parse_timestamp,
    require,
)

AddressLookup = Callable[[str], "str | None"]
MAX_DECIMALS = 36
MAX_ATOMIC_DIGITS = 60


@dataclass(frozen=True)
class Asset:
    """A token taken at 1 USD per whole unit."""

    symbol: str
    decimals: int


V1_NETWORKS = {
    "base": "eip155:8453",
    "base-sepolia": "eip155:84532",
    "ethereum": "eip155:1",
    "polygon": "eip155:137",
    "polygon-amoy": "eip155:80002",
    "avalanche": "eip155:43114",
    "avalanche-fuji": "eip155:43113",
    "solana": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
    "solana-devnet": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
}
USDC = Asset("USDC", 6)
KNOWN_ASSETS: dict[tuple[str, str], Asset] = {
    ("eip155:8453", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"): USDC,
    ("eip155:84532", "0x036cbd53842c5426634e7929541ec2318f3dcf7e"): USDC,
    ("eip155:1", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"): USDC,
    ("eip155:137", "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359"): USDC,
    ("eip155:42161", "0xaf88d065e77c8cc2239327c5edb3a432268e5831"): USDC,
    ("eip155:43114", "0xb97ef9ef8734c71904d8002f8b6bc66dd9c48a6e"): USDC,
    ("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"): USDC,
    ("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"): Asset(
        "USDT", 6
    ),
    ("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"): USDC,
}


def map_x402_settlement(
    record: object,
    *,
    agent_for_address: AddressLookup,
    now: datetime,
    assets: Mapping[tuple[str, str], Asset] | None = None,
) -> SpendEvent:
    """Map one settlement; ``assets`` adds tokens (keyed by CAIP-2 network and address) to the table."""
    parts = _Parts.of(as_mapping(record, "record"))
    raw_network = parts.settle.get("network") or require(parts.requirements, "network")
    network = caip2(check_str("network", raw_network, max_len=128))
    payer = _payer(parts)
    agent_id = _agent(agent_for_address, payer, "payer")
    pay_to = check_str("paymentRequirements.payTo", _get(parts.requirements, "payTo"), max_len=128)
    counterparty = agent_for_address(pay_to)
    atomic = _atomic_amount(parts)
    asset = _asset(network, parts.requirements, assets or {})
    whole = Decimal(atomic).scaleb(-asset.decimals)
    return SpendEvent(
        agent_id=agent_id,
        amount=micros_half_up(whole, field="amount"),
        rail="x402",
        vendor=_vendor(parts.resource, pay_to),
        endpoint=parts.resource[:1024] if parts.resource else None,
        kind="transfer" if counterparty else "payment",
        status="settled" if parts.settle.get("success") is True else "failed",
        counterparty_agent_id=check_slug("counterparty_agent_id", counterparty) if counterparty else None,
        metadata=_metadata(parts, payer, pay_to),
        source="x402",
        external_id=f"{network}:{_transaction(parts, network)}",
        occurred_at=parse_timestamp("occurredAt", parts.occurred_at, now=now) if parts.occurred_at else now,
        original_amount=format(whole, "f"),
        original_currency=asset.symbol,
    )


def caip2(network: str) -> str:
    """v1 names (``base-sepolia``) and v2 CAIP-2 ids (``eip155:84532``) name the same chain one way."""
    return V1_NETWORKS.get(network, network)[:128]


@dataclass(frozen=True)
class _Parts:
    requirements: Mapping[str, Any]
    payload: Mapping[str, Any]
    settle: Mapping[str, Any]
    resource: str | None
    occurred_at: object
    version: int

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> _Parts:
        payload = as_mapping(_get(record, "paymentPayload") or {}, "paymentPayload")
        accepted = payload.get("accepted")
        requirements = _get(record, "paymentRequirements") or accepted
        if requirements is None:
            raise invalid("paymentRequirements", "are required (or paymentPayload.accepted)")
        req = as_mapping(requirements, "paymentRequirements")
        settle = as_mapping(
            _get(record, "settleResponse") or require(record, "settleResponse"), "settleResponse"
        )
        version = 1 if _get(req, "maxAmountRequired") is not None else 2
        return cls(req, payload, settle, _resource(record, req, payload), _get(record, "occurredAt"), version)


def _get(record: Mapping[str, Any], camel: str) -> Any:
    snake = "".join(f"_{char.lower()}" if char.isupper() else char for char in camel)
    return record.get(camel, record.get(snake))


def _resource(record: Mapping[str, Any], req: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    """v1 puts the URL in the requirements, v2 in ``resource.url``; an explicit record field wins."""
    found = record.get("resource") or req.get("resource") or payload.get("resource")
    if isinstance(found, Mapping):
        found = found.get("url")
    return found if isinstance(found, str) and found else None


def _payer(parts: _Parts) -> str:
    """The facilitator reports the payer; the signed EVM authorization names it too."""
    payer = parts.settle.get("payer")
    if not payer:
        inner = parts.payload.get("payload")
        auth = inner.get("authorization") if isinstance(inner, Mapping) else None
        payer = auth.get("from") if isinstance(auth, Mapping) else None
    if not payer:
        raise invalid("settleResponse.payer", "is required to know which agent paid")
    return check_str("settleResponse.payer", payer, max_len=128)


def _agent(lookup: AddressLookup, address: str, role: str) -> str:
    agent = lookup(address)
    if agent is None:
        raise UnknownAgent(f"No agent is mapped to the x402 {role} address {address}.", address=address)
    return check_slug("agent_id", agent)


def _atomic_amount(parts: _Parts) -> int:
    """The settled amount if the facilitator reports one, else what the requirements asked for."""
    field = "maxAmountRequired" if parts.version == 1 else "amount"
    raw = parts.settle.get("amount") or _get(parts.requirements, field)
    text = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ATOMIC_DIGITS:
        raise invalid("amount", "must be a whole number of the asset's atomic units", value=str(raw)[:80])
    return int(text)


def _asset(network: str, req: Mapping[str, Any], extra: Mapping[tuple[str, str], Asset]) -> Asset:
    """Known stablecoins by address; otherwise the requirements' ``extra.decimals`` (taken as USD)."""
    address = check_str("paymentRequirements.asset", require(req, "asset"), max_len=128)
    key = address.lower() if network.startswith("eip155:") else address
    for table in (extra, KNOWN_ASSETS):
        if (asset := table.get((network, key)) or table.get((network, address))) is not None:
            return asset
    decimals = (req.get("extra") or {}).get("decimals") if isinstance(req.get("extra"), Mapping) else None
    if decimals is None:
        raise invalid(
            "paymentRequirements.asset",
            "is not a known USD stablecoin on this network; configure it or send extra.decimals",
            network=network,
            asset=address,
        )
    symbol = str((req.get("extra") or {}).get("name") or address)[:32]
    return Asset(symbol, check_int("paymentRequirements.extra.decimals", decimals, maximum=MAX_DECIMALS))


def _transaction(parts: _Parts, network: str) -> str:
    """The chain transaction; a failed settlement without one is keyed by a hash of its signed payload."""
    tx = parts.settle.get("transaction")
    if isinstance(tx, str) and tx:
        tx = check_str("settleResponse.transaction", tx, max_len=128)
        return tx.lower() if network.startswith("eip155:") else tx
    if parts.settle.get("success") is True:
        raise invalid("settleResponse.transaction", "is required for a successful settlement")
    signed = json.dumps(parts.payload.get("payload") or dict(parts.requirements), sort_keys=True, default=str)
    return "failed-" + hashlib.sha256(signed.encode()).hexdigest()[:32]


def _vendor(resource: str | None, pay_to: str) -> str:
    try:
        host = urlsplit(resource).hostname if resource else None
    except ValueError:
        host = None
    return (host or pay_to)[:256]


def _metadata(parts: _Parts, payer: str, pay_to: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"x402_version": parts.version, "payer": payer, "pay_to": pay_to}
    if scheme := parts.requirements.get("scheme"):
        meta["scheme"] = str(scheme)[:32]
    if reason := _get(parts.settle, "errorReason"):
        meta["error_reason"] = str(reason)[:256]
    return meta
