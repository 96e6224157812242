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
"""

from __future__ import annotations

import logging
from typing import Any

from spendwarden.db.pg_authorize import authorize_in_database
from spendwarden.ledger.approval import approved, cap_exceeded, new_hold
from spendwarden.ledger.caps import CAP_NAMES, first_denial
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.policy import policy_violation
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.windows import WINDOW_CAPS, window_keys_us

log = logging.getLogger(__name__)

_READ_AGENT = "SELECT caps, policy FROM agents WHERE id = %s"


def try_authorize(core: LedgerCore, agent_id: str, req: AuthorizeRequest) -> dict[str, Any] | None:
    """The approval's answer, a raised ``CapExceeded``, or None: use the locked path."""
    known = core.known_agents.get(agent_id)
    with core.store.autocommit() as dbapi:
        if known is None:
            row = dbapi.execute(_READ_AGENT, (agent_id,), prepare=True).fetchone()
            if row is None:
                return None
            known = core.known_agents.put(agent_id, row[0], row[1])
        if policy_violation(known.policy, vendor=req.vendor, rail=req.rail, tool=req.tool) is not None:
            core.known_agents.forget(agent_id)  # the locked path refuses with the row as it is now
            return None
        hold = new_hold(agent_id, req, core.clock.now(), req.ttl_seconds or core.settings.hold_ttl_seconds)
        keys = window_keys_us(hold["created_at"])
        decision = authorize_in_database(
            dbapi,
            caps_text=known.caps_text,
            policy_text=known.policy_text,
            limits=known.limits,
            periods=[keys[cap] for cap in WINDOW_CAPS[:4]],
            hold=hold,
        )
    if decision.outcome == "approved":
        assert decision.committed is not None
        return approved(hold, known.caps, _committed(decision.committed, req.task_id))
    if decision.outcome == "denied":
        assert decision.committed is not None
        denial = first_denial(known.caps, _committed(decision.committed, req.task_id), req.amount)
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
