"""One unit of work for one agent: lock, act, flush the state row, commit, then publish."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from spendwarden.db import queries as q
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.types import Agent

STATE_FIELDS = ("seq", "head_id", "head_hash", "held", "signal_state")


@contextmanager
def agent_unit(core: LedgerCore, agent_id: str) -> Iterator[TxContext]:
    """Run a block under the agent's lock; publish what it emitted only after commit."""
    now = core.clock.now()
    with core.store.agent_tx(agent_id) as (conn, state):
        row = q.get_agent(conn, agent_id)
        if row is None:
            raise AgentNotFound(agent_id=agent_id)
        ctx = TxContext(
            conn=conn,
            store=core.store,
            agent=Agent.from_row(row),
            state=state,
            now=now,
            observers=core.observers,
        )
        before = {f: state[f] for f in STATE_FIELDS}
        yield ctx
        changed = {f: state[f] for f in STATE_FIELDS if state[f] != before[f]}
        if changed:
            changed["updated_at"] = ctx.now_us
            q.update_state(conn, agent_id, changed)
    core.publish(ctx.emitted)
