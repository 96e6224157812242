"""Authorization in one round trip on PostgreSQL, through ``spendwarden_authorize``.

The locked path (``holds.authorize``) costs four round trips on PostgreSQL, and each one
~100 µs of driver CPU besides the wait: more than the decision itself. Here the database
function locks the agent, reads its counters, checks the caps and writes the hold in the
call's own transaction. It decides with the configuration this process last read
(``KnownAgents``) and writes nothing unless the locked row still holds exactly that
configuration and the agent is active. For an agent this process has not read (a fleet's
first requests, or the one after a change), it passes no configuration and the function
decides on the locked row, answering the row's texts to remember; an agent with a policy
makes that two calls, because policy rules are checked here, not in the database.

Whatever this path cannot answer exactly goes back to the locked path, which words every
error: an agent not active, changed or unknown (``stale``, ``missing``), and a policy
refusal. ``holds.authorize`` sends requests with an idempotency key there directly (the
stored answer lives in that transaction).

``_authorization`` is the decision without I/O: a generator that yields each call to make
and gets its decision back. ``try_authorize`` drives it with blocking calls (the ledger's
callers), ``try_authorize_async`` with calls awaited on the event loop's own connections
(the fast HTTP route); both share a call, and its commit, with the calls made at the same
time (``db/pg_batch.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from spendwarden.clock import to_us
from spendwarden.db.pg_authorize import AuthorizeCall, DatabaseDecision
from spendwarden.ledger.approval import KeyRefused, approved, cap_exceeded, new_hold
from spendwarden.ledger.caps import CAP_NAMES, first_denial
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.known import KnownAgent
from spendwarden.ledger.policy import policy_violation
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.windows import WINDOW_CAPS, window_keys_us

log = logging.getLogger(__name__)

# What ``_authorization`` yields, is sent and returns.
Steps = Generator[AuthorizeCall, DatabaseDecision, dict[str, Any] | None]


def try_authorize(core: LedgerCore, agent_id: str, req: AuthorizeRequest) -> dict[str, Any] | None:
    """The approval's answer, a raised ``CapExceeded``, or None: use the locked path."""
    decide = core.decide_in_database
    assert decide is not None
    steps = _authorization(core, agent_id, req)
    try:
        call = next(steps)
        while True:
            call = steps.send(decide(call))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def try_authorize_async(
    core: LedgerCore,
    decide: Callable[[AuthorizeCall], Awaitable[DatabaseDecision]],
    agent_id: str,
    req: AuthorizeRequest,
    *,
    key_hash: str | None = None,
) -> dict[str, Any] | None:
    """``try_authorize`` with ``decide`` (``db.pg_authorize.AsyncConnections.decide``);
    ``key_hash``: the request's key, checked in the same call (``KeyRefused`` if not valid)."""
    steps = _authorization(core, agent_id, req, key_hash)
    try:
        call = next(steps)
        while True:
            call = steps.send(await decide(call))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _authorization(
    core: LedgerCore, agent_id: str, req: AuthorizeRequest, key_hash: str | None = None
) -> Steps:
    """Yields the calls to make, is sent their decisions; returns the answer, or None when
    the locked path must answer. One call, unless the agent was not known and has a
    policy: its texts come back with the first, the policy is checked, and it is asked
    again with them."""
    known = core.known_agents.get(agent_id)
    call = _prepare(core, agent_id, req, known, key_hash)
    if call is None:
        return None
    decision = yield call
    if decision.outcome == "policy":
        known = _remember(core, agent_id, decision)
        call = _prepare(core, agent_id, req, known, key_hash)
        if call is None:
            return None
        decision = yield call
    if decision.caps_text is not None:  # decided on the row, first sight: remember it
        known = _remember(core, agent_id, decision)
    return _conclude(core, req, known, call, decision)


def _remember(core: LedgerCore, agent_id: str, decision: DatabaseDecision) -> KnownAgent:
    assert decision.caps_text is not None and decision.policy_text is not None
    return core.known_agents.put(agent_id, decision.caps_text, decision.policy_text)


def _prepare(
    core: LedgerCore,
    agent_id: str,
    req: AuthorizeRequest,
    known: KnownAgent | None,
    key_hash: str | None = None,
) -> AuthorizeCall | None:
    """The call to make (with no configuration when ``known`` is None: the function
    decides on the row), or None when the locked path must answer."""
    policy = {} if known is None else known.policy
    if policy_violation(policy, vendor=req.vendor, rail=req.rail, tool=req.tool) is not None:
        core.known_agents.forget(agent_id)  # the locked path refuses with the row as it is now
        return None
    hold = new_hold(agent_id, req, to_us(core.clock.now()), req.ttl_seconds or core.settings.hold_ttl_seconds)
    keys = window_keys_us(hold["created_at"])
    periods = [keys[cap] for cap in WINDOW_CAPS[:4]]
    if known is None:
        return AuthorizeCall(None, None, None, periods, hold, key_hash)
    return AuthorizeCall(known.caps_text, known.policy_text, known.limits, periods, hold, key_hash)


def _conclude(
    core: LedgerCore,
    req: AuthorizeRequest,
    known: KnownAgent | None,
    call: AuthorizeCall,
    decision: DatabaseDecision,
) -> dict[str, Any] | None:
    agent_id = call.hold["agent_id"]
    if decision.outcome == "key":
        raise KeyRefused()
    if decision.outcome in ("approved", "denied"):
        assert known is not None and decision.committed is not None
        committed = _committed(decision.committed, req.task_id)
        if decision.outcome == "approved":
            return approved(call.hold, known.caps, committed)
        denial = first_denial(known.caps, committed, req.amount)
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
