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

The event loop's authorizations of one iteration are decided together (``decide_batch``,
run by ``db/loop_commit.py`` in one transaction): one after another, each reading its
own row, and then every approval's hold written with one ``executemany`` and every agent's
state row with another. A request decided later in the batch counts the holds of earlier
ones for the same agent and task (their rows are not written yet, so the running totals
are kept here). Batched, an authorization cost ~25 µs less than each in its own savepoint
with its own statements (``docs/BENCHMARKS.md``, stop 23).

Whatever is not a plain decision goes back to the locked path, which words every error:
an unknown or inactive agent, a policy refusal. ``holds.authorize`` sends requests with an
idempotency key there directly. The HTTP route may pass the request's key, looked up on an
earlier request, to be checked in the same read. A cap denial is decided here, as the
locked path decides it: ``ledger.caps.first_denial`` over the same committed amounts
(``holds.committed_spend``); nothing is written for it.
"""

from __future__ import annotations

from collections.abc import Sequence
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
_ADD_HELD = "UPDATE agent_state SET held = held + ?, updated_at = ? WHERE agent_id = ?"
_ADD_TASK_HELD = (
    "INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)"
    " VALUES (?, 'per_task', ?, 0, ?, 0)"
    " ON CONFLICT (agent_id, scope, period) DO UPDATE SET held = spend_counters.held + excluded.held"
)
# An approval written: the hold row, the caps and what counted against them before it.
Approval = tuple[dict[str, Any], Caps, dict[str, int]]
# One request of a batch: the agent, the request and the key to check in the read (or None).
Lean = tuple[str, AuthorizeRequest, str | None]
# What became of it: approved, None (the locked path decides), or the error to raise
# (``CapExceeded``, ``KeyRefused``).
Outcome = Approval | None | Exception


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
    """One request's ``decide_batch``, its error raised: the approval, written, for
    ``approved`` to word; nothing is written unless approved."""
    (outcome,) = decide_batch(core, conn, [(agent_id, req, key_hash)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def decide_batch(core: LedgerCore, conn: Connection, requests: Sequence[Lean]) -> list[Outcome]:
    """Decide ``requests`` in order, in the write transaction the caller holds, and write
    the approvals: one outcome per request. A request's error is its outcome, not raised,
    and writes nothing; what the statements raise is raised (the caller rolls the whole
    batch back: nothing of it was answered)."""
    now_us = to_us(core.clock.now())
    keys = window_keys_us(now_us)
    periods = tuple(keys[cap] for cap in WINDOW_CAPS)
    ttl = core.settings.hold_ttl_seconds
    known_agents = core.known_agents
    dbapi = hot.raw(conn)
    execute = dbapi.execute
    # What this batch's approvals so far add to each agent's and each task's held: the
    # rows are written only at the end, so every read still sees the held before the batch.
    added_by_agent: dict[str, int] = {}
    added_by_task: dict[tuple[str, str], int] = {}
    outcomes: list[Outcome] = []
    holds: list[tuple[Any, ...]] = []
    for agent_id, req, key_hash in requests:
        task = req.task_id
        row = execute(_READ, (key_hash, *periods, task or "", agent_id)).fetchone()
        if key_hash is not None and (row is None or row[11] is None):
            outcomes.append(KeyRefused())
            continue
        if row is None or row[0] != "active":
            outcomes.append(None)
            continue
        known = known_agents.get(agent_id)
        if known is None or known.caps_text != row[1] or known.policy_text != row[2]:
            known = known_agents.put(agent_id, row[1], row[2])
        if policy_violation(known.policy, vendor=req.vendor, rail=req.rail, tool=req.tool) is not None:
            outcomes.append(None)
            continue
        held = int(row[3]) + added_by_agent.get(agent_id, 0)
        committed = {cap: int(row[4 + i] or 0) + held for i, cap in enumerate(WINDOW_CAPS)}
        if task:
            task_held = int(row[10] or 0) + added_by_task.get((agent_id, task), 0)
            committed["per_task"] = int(row[9] or 0) + task_held
        denial = first_denial(known.caps, committed, req.amount)
        if denial is not None:
            outcomes.append(cap_exceeded(denial))  # nothing written
            continue
        hold = new_hold(agent_id, req, now_us, req.ttl_seconds or ttl)
        holds.append(tuple(hold[column] for column in hot.HOLD_COLUMNS))
        added_by_agent[agent_id] = added_by_agent.get(agent_id, 0) + req.amount
        if task:
            added_by_task[(agent_id, task)] = added_by_task.get((agent_id, task), 0) + req.amount
        outcomes.append((hold, known.caps, committed))
    if holds:
        dbapi.executemany(_INSERT_HOLD, holds)
        dbapi.executemany(_ADD_HELD, [(added, now_us, agent) for agent, added in added_by_agent.items()])
        if added_by_task:
            dbapi.executemany(_ADD_TASK_HELD, [(a, t, added) for (a, t), added in added_by_task.items()])
    return outcomes
