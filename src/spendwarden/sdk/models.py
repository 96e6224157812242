"""What the SDK hands back: small typed views over the API's JSON, amounts as ``Decimal``.

Each keeps the full JSON in ``raw`` so nothing the server says is lost to a client that
needs a field this module does not name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from spendwarden.money import format_amount, parse_amount


def to_decimal(value: object) -> Decimal:
    """An amount from the wire (always a decimal string) as an exact ``Decimal``."""
    return Decimal(str(value))


def amount_text(value: object, *, field: str = "amount_usd") -> str:
    """Any accepted amount (str, Decimal, int; a float only if it has ≤ 6 decimals) as wire text."""
    return format_amount(parse_amount(value, field=field))


@dataclass(frozen=True)
class Authorization:
    """An approved hold: the amount is reserved against every cap until settled or voided."""

    id: str
    status: str
    agent_id: str
    amount: Decimal
    expires_at: str
    headroom: dict[str, Decimal]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Authorization:
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            agent_id=str(data.get("agent_id", "")),
            amount=to_decimal(data["amount_usd"]),
            expires_at=str(data.get("expires_at", "")),
            headroom={k: to_decimal(v) for k, v in (data.get("headroom") or {}).items()},
            raw=data,
        )


@dataclass(frozen=True)
class Transaction:
    """One ledger row. ``duplicate`` is true when ``record`` found the same external id already there."""

    id: str
    amount: Decimal
    status: str
    model: str | None
    task_id: str | None
    metadata: dict[str, Any]
    usage: dict[str, int] | None
    price_version: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    duplicate: bool = False
    authorization: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, duplicate: bool = False, authorization: dict[str, Any] | None = None
    ) -> Transaction:
        return cls(
            id=str(data["id"]),
            amount=to_decimal(data["amount_usd"]),
            status=str(data["status"]),
            model=data.get("model"),
            task_id=data.get("task_id"),
            metadata=dict(data.get("metadata") or {}),
            usage=data.get("usage"),
            price_version=data.get("price_version"),
            raw=data,
            duplicate=duplicate,
            authorization=authorization,
        )

    @classmethod
    def from_settle(cls, data: dict[str, Any]) -> Transaction:
        return cls.from_json(data["transaction"], authorization=data.get("authorization"))

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Transaction:
        return cls.from_json(data["transaction"], duplicate=bool(data.get("duplicate")))
