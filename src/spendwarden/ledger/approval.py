"""What an authorization writes and answers, shared by the locked path (``holds``) and
the one-round-trip path on PostgreSQL (``authorize_pg``), so both say exactly the same."""

from __future__ import annotations

from typing import Any

from spendwarden.clock import iso
from spendwarden.errors import CapExceeded
from spendwarden.ids import new_id
from spendwarden.ledger.caps import CapDenial, Caps, headroom
from spendwarden.ledger.render import money_map
from spendwarden.ledger.types import AuthorizeRequest, dumps
from spendwarden.money import format_amount


def new_hold(agent_id: str, req: AuthorizeRequest, now_us: int, ttl_seconds: int) -> dict[str, Any]:
    """The ``holds`` row an approval inserts, made at ``now_us`` (epoch microseconds)."""
    return {
        "id": new_id("auth_"),
        "agent_id": agent_id,
        "amount": req.amount,
        "status": "open",
        "vendor": req.vendor,
        "rail": req.rail,
        "tool": req.tool,
        "model": req.model,
        "endpoint": req.endpoint,
        "task_id": req.task_id,
        "user_id": req.user_id,
        "kind": req.kind,
        "metadata": dumps(req.metadata) if req.metadata else None,
        "created_at": now_us,
        "expires_at": now_us + ttl_seconds * 1_000_000,
    }


def approved(hold: dict[str, Any], caps: Caps, committed: dict[str, int]) -> dict[str, Any]:
    """The answer to an approval; ``committed`` is what counted against each cap before it."""
    amount = hold["amount"]
    after = {cap: v + amount for cap, v in committed.items()}
    return {
        "id": hold["id"],
        "status": "approved",
        "agent_id": hold["agent_id"],
        "amount_usd": format_amount(amount),
        "expires_at": iso(hold["expires_at"]),
        "headroom": money_map(headroom(caps, after)),
    }


def cap_exceeded(denial: CapDenial) -> CapExceeded:
    return CapExceeded(
        f"{denial.cap} cap of {format_amount(denial.limit)} USD would be exceeded",
        cap=denial.cap,
        limit=format_amount(denial.limit),
        spent=format_amount(denial.spent),
        requested=format_amount(denial.requested),
    )


class KeyRefused(Exception):
    """The key a fast path was asked to check in the same statement is no longer the
    agent's, or is revoked: nothing was decided; look the key up again (to word the
    refusal)."""
