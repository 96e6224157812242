"""One unit of work for one agent: lock, act, flush the state row, commit, then publish."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from spendwarden.db import hot
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.types import Agent

STATE_FIELDS = ("seq", "head_id", "head_hash", "held", "signal_state")


@contextmanager
def agent_unit(core: LedgerCore, agent_id: str) -> Iterator[TxContext]:
    """Run a block under the agent's lock; publish what it emitted only after commit."""
    now = core.clock.now()
    postgres = core.store.is_postgres
    with core.store.write() as conn:
        found = hot.lock_agent(conn, postgres, agent_id)
        if found is None:
            raise AgentNotFound(agent_id=agent_id)
        state, row = found
        ctx = TxContext(
            conn=conn,
            store=core.store,
            agent=_agent(row),
            state=state,
            now=now,
            observers=core.observers,
        )
        before = {f: state[f] for f in STATE_FIELDS}
        yield ctx
        changed = {f: state[f] for f in STATE_FIELDS if state[f] != before[f]}
        if changed:
            changed["updated_at"] = ctx.now_us
            hot.update_state(conn, postgres, agent_id, changed)
    core.publish(ctx.emitted)


_parsed: dict[tuple[object, ...], Agent] = {}


def _agent(row: dict[str, object]) -> Agent:
    """Parse the agent row, reusing the parse while every column is unchanged (a copy,
    since callers may mutate it). The row itself is always read fresh under the lock."""
    key = tuple(row.values())
    agent = _parsed.get(key)
    if agent is None:
        if len(_parsed) > 100_000:
            _parsed.clear()
        agent = _parsed[key] = Agent.from_row(row)
    return copy.copy(agent)
