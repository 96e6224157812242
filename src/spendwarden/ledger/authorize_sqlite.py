"""Authorization on SQLite's writer in four statements and little Python.

The locked path (``holds.authorize``) is general: it reads the whole agent row, parses it
into an ``Agent``, runs the unit's bookkeeping (a context, state snapshots, outbox rows to
stage and publish) and binds statements by name. An authorization uses none of that, and
in a quiet loop the general path spent ~45 µs of Python around ~70 µs of SQLite per call.
Here, under the same writer lock and in the same transaction, one positional read gets
exactly what the decision needs (the agent's status, caps and policy texts, its open
holds and the six counters), the configuration is parsed once per distinct text
(``KnownAgents``: the row is read under the lock on every call, so it is always current),
and the hold and the state row are written positionally.

Whatever is not a plain decision goes back to the locked path, which words every error:
an unknown or inactive agent, a policy refusal. ``holds.authorize`` sends requests with an
idempotency key there directly. The HTTP route may pass the request's key, looked up on an
earlier request, to be checked in the same read. A cap denial is raised here, as the locked path raises
it: ``ledger.caps.first_denial`` over the same committed amounts
(``holds.committed_spend``), and nothing is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spendwarden.clock import to_us
from spendwarden.db import hot
from spendwarden.ledger.approval import KeyRefused, approved, cap_exceeded, new_hold
from spendwarden.ledger.caps import Caps, first_denial
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.policy import policy_violation
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.windows import WINDOW_CAPS, window_keys_us

_READ = (
    "SELECT a.status, a.caps, a.policy, s.held, "
    + ", ".join(f"c_{cap}.amount" for cap in WINDOW_CAPS)
    + ", c_task.amount, c_task.held, (SELECT k.id FROM agent_keys k WHERE k.key_hash = ?"
    " AND k.agent_id = s.agent_id AND k.revoked_at IS NULL)"
    " FROM agent_state s JOIN agents a ON a.id = s.agent_id "
    + " ".join(
        f"LEFT JOIN spend_counters c_{cap} ON c_{cap}.agent_id = s.agent_id"
        f" AND c_{cap}.scope = '{cap}' AND c_{cap}.period = ?"
        for cap in WINDOW_CAPS
    )
    + " LEFT JOIN spend_counters c_task ON c_task.agent_id = s.agent_id"
    " AND c_task.scope = 'per_task' AND c_task.period = ?"
    " WHERE s.agent_id = ?"
)
_INSERT_HOLD = (
    f"INSERT INTO holds ({', '.join(hot.HOLD_COLUMNS)}) VALUES ({', '.join('?' * len(hot.HOLD_COLUMNS))})"
)
# An approval written: the hold row, the caps and what counted against them before it.
Approval = tuple[dict[str, Any], Caps, dict[str, int]]
_MOVE_HELD = "UPDATE agent_state SET held = ?, updated_at = ? WHERE agent_id = ?"


def try_authorize(
    core: LedgerCore, agent_id: str, req: AuthorizeRequest, *, key_hash: str | None = None
) -> dict[str, Any] | None:
    """The approval's answer, a raised ``CapExceeded``, or None: use the locked path.
    ``key_hash``: the request's key, known from an earlier lookup and checked in the same
    read (``KeyRefused`` unless it is still this agent's and not revoked): the key lookup
    on a reader connection, whose page cache every commit empties, cost more than this."""
    with core.store.write() as conn:  # the writer's lock: nothing but the statements in it
        approval = decide_on_writer(core, conn, agent_id, req, key_hash)
    return None if approval is None else approved(*approval)


def decide_on_writer(
    core: LedgerCore, conn: Connection, agent_id: str, req: AuthorizeRequest, key_hash: str | None
) -> Approval | None:
    """``try_authorize`` in a write transaction the caller holds (``db/loop_commit.py``
    shares one between the event loop's authorizations): the approval, written, for
    ``approved`` to word; nothing is written unless approved."""
    now_us = to_us(core.clock.now())
    keys = window_keys_us(now_us)
    params = (key_hash, *(keys[cap] for cap in WINDOW_CAPS), req.task_id or "", agent_id)
    dbapi = hot.raw(conn)
    row = dbapi.execute(_READ, params).fetchone()
    if key_hash is not None and (row is None or row[11] is None):
        raise KeyRefused()
    if row is None or row[0] != "active":
        return None
    known = core.known_agents.get(agent_id)
    if known is None or known.caps_text != row[1] or known.policy_text != row[2]:
        known = core.known_agents.put(agent_id, row[1], row[2])
    if policy_violation(known.policy, vendor=req.vendor, rail=req.rail, tool=req.tool) is not None:
        return None
    held = int(row[3])
    committed = {cap: int(row[4 + i] or 0) + held for i, cap in enumerate(WINDOW_CAPS)}
    if req.task_id:
        committed["per_task"] = int(row[9] or 0) + int(row[10] or 0)
    denial = first_denial(known.caps, committed, req.amount)
    if denial is not None:
        raise cap_exceeded(denial)  # nothing written
    hold = new_hold(agent_id, req, now_us, req.ttl_seconds or core.settings.hold_ttl_seconds)
    dbapi.execute(_INSERT_HOLD, tuple(hold[column] for column in hot.HOLD_COLUMNS))
    dbapi.execute(_MOVE_HELD, (held + req.amount, now_us, agent_id))
    if req.task_id:
        hot.add_held(conn, False, agent_id, "per_task", req.task_id, req.amount)
    return hold, known.caps, committed
