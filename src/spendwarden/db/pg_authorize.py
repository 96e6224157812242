"""PostgreSQL: call ``spendwarden_authorize`` (migration 0008), one authorization in one
round trip, on an autocommit driver connection (the call is its own transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spendwarden.db.hot import HOLD_COLUMNS

# The function's arguments after the agent's texts, limits and periods: the hold row.
_HOLD_ARGS = tuple(c for c in HOLD_COLUMNS if c not in ("agent_id", "status"))
_BIGINT = {"amount", "created_at", "expires_at"}
_CALL = (
    "SELECT outcome, denied_cap, committed FROM spendwarden_authorize(%s::text, %s::text, %s::text,"
    " %s::bigint[], %s::text[], "
    + ", ".join("%s::bigint" if c in _BIGINT else "%s::text" for c in _HOLD_ARGS)
    + ")"
)


@dataclass(frozen=True, slots=True)
class DatabaseDecision:
    """``approved`` (the hold is written and committed), ``denied`` (``denied_cap``: an
    index into ``CAP_NAMES``), ``stale`` (the agent row no longer holds the texts the
    caller checked, or the agent is not active) or ``missing``; nothing is written unless
    approved. ``committed`` is what counted against each cap before this amount."""

    outcome: str
    denied_cap: int | None
    committed: list[int] | None


def authorize_in_database(
    dbapi: Any,
    *,
    caps_text: str,
    policy_text: str,
    limits: list[int | None],
    periods: list[str],
    hold: dict[str, Any],
) -> DatabaseDecision:
    """One call; ``limits`` in ``CAP_NAMES`` order, ``periods`` the hourly, daily, weekly
    and monthly counter keys of now, ``hold`` the row ``holds._take_hold`` would insert."""
    args = [hold["agent_id"], caps_text, policy_text, limits, periods, *(hold[c] for c in _HOLD_ARGS)]
    outcome, denied_cap, committed = dbapi.execute(_CALL, args, prepare=True).fetchone()
    return DatabaseDecision(outcome, None if denied_cap is None else denied_cap - 1, committed)
