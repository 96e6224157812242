"""Authorization in one round trip on PostgreSQL, through ``spendwarden_authorize``.

The locked path (``holds.authorize``) costs four round trips on PostgreSQL, and each one
~100 µs of driver CPU besides the wait: more than the decision itself. Here the database
function locks the agent, reads its counters, checks the caps and writes the hold in the
call's own transaction. It decides with the configuration this process last read
(``KnownAgents``) and writes nothing unless the locked row still holds exactly that
configuration and the agent is active.

Whatever this path cannot answer exactly goes back to the locked path, which words every
error: an agent not active, changed or unknown (``stale``, ``missing``), and a policy
refusal by the known configuration. ``holds.authorize`` sends requests with an
idempotency key there directly (the stored answer lives in that transaction).

``try_authorize`` blocks (the ledger's callers); ``try_authorize_async`` is the same on
the event loop's own connections (the fast HTTP route). Both are ``_prepare``, one call,
``_conclude``.
"""

from __future__ import annotations

import logging
from typing import Any

from spendwarden.db.pg_authorize import (
    READ_AGENT,
    READ_AGENT_NUMBERED,
    AuthorizeCall,
    DatabaseDecision,
    authorize_in_database,
    authorize_in_database_async,
)
from spendwarden.ledger.approval import KeyRefused, approved, cap_exceeded, new_hold
from spendwarden.ledger.caps import CAP_NAMES, first_denial
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.known import KnownAgent
from spendwarden.ledger.policy import policy_violation
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.windows import WINDOW_CAPS, window_keys_us

log = logging.getLogger(__name__)


def try_authorize(core: LedgerCore, agent_id: str, req: AuthorizeRequest) -> dict[str, Any] | None:
    """The approval's answer, a raised ``CapExceeded``, or None: use the locked path."""
    with core.store.autocommit() as dbapi:
        known = core.known_agents.get(agent_id) or _known(
            core, agent_id, dbapi.execute(READ_AGENT, (agent_id,), prepare=True).fetchone()
        )
        call = _prepare(core, agent_id, req, known)
        decision = None if call is None else authorize_in_database(dbapi, call)
    return _conclude(core, req, known, call, decision)


async def try_authorize_async(
    core: LedgerCore, conn: Any, agent_id: str, req: AuthorizeRequest, *, key_hash: str | None = None
) -> dict[str, Any] | None:
    """``try_authorize`` on a connection of ``db.pg_authorize.AsyncConnections``;
    ``key_hash``: the request's key, checked in the same call (``KeyRefused`` if not valid)."""
    known = core.known_agents.get(agent_id) or _known(
        core, agent_id, await conn.fetchrow(READ_AGENT_NUMBERED, agent_id)
    )
    call = _prepare(core, agent_id, req, known, key_hash)
    decision = None if call is None else await authorize_in_database_async(conn, call)
    return _conclude(core, req, known, call, decision)


def _known(core: LedgerCore, agent_id: str, row: Any) -> KnownAgent | None:
    """Remember the agent's (caps, policy) row as just read; None when there is no agent."""
    return None if row is None else core.known_agents.put(agent_id, row[0], row[1])


def _prepare(
    core: LedgerCore,
    agent_id: str,
    req: AuthorizeRequest,
    known: KnownAgent | None,
    key_hash: str | None = None,
) -> AuthorizeCall | None:
    """The call to make, or None when the locked path must answer."""
    if known is None:
        return None
    if policy_violation(known.policy, vendor=req.vendor, rail=req.rail, tool=req.tool) is not None:
        core.known_agents.forget(agent_id)  # the locked path refuses with the row as it is now
        return None
    hold = new_hold(agent_id, req, core.clock.now(), req.ttl_seconds or core.settings.hold_ttl_seconds)
    keys = window_keys_us(hold["created_at"])
    periods = [keys[cap] for cap in WINDOW_CAPS[:4]]
    return AuthorizeCall(known.caps_text, known.policy_text, known.limits, periods, hold, key_hash)


def _conclude(
    core: LedgerCore,
    req: AuthorizeRequest,
    known: KnownAgent | None,
    call: AuthorizeCall | None,
    decision: DatabaseDecision | None,
) -> dict[str, Any] | None:
    if decision is None:  # nothing was asked: the locked path answers
        return None
    assert known is not None and call is not None
    agent_id, caps = call.hold["agent_id"], known.caps
    if decision.outcome == "key":
        raise KeyRefused()
    if decision.outcome == "approved":
        assert decision.committed is not None
        return approved(call.hold, caps, _committed(decision.committed, req.task_id))
    if decision.outcome == "denied":
        assert decision.committed is not None
        denial = first_denial(caps, _committed(decision.committed, req.task_id), req.amount)
        if denial is not None:
            raise cap_exceeded(denial)
        # The function and ``first_denial`` disagree (a bug in one of them): let the locked
        # path decide, and say so.
        log.error("spendwarden_authorize denied %s what first_denial allows", agent_id)
    core.known_agents.forget(agent_id)
    return None


def _committed(values: list[int], task_id: str | None) -> dict[str, int]:
    """The function's committed array as ``holds.committed_spend`` answers it: the window
    caps, and the task's cap when there is a task."""
    committed = dict(zip(CAP_NAMES, values, strict=True))
    del committed["per_transaction"]
    if not task_id:
        del committed["per_task"]
    return committed
