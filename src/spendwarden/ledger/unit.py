"""One unit of work for one agent: lock, act, flush the state row, stage outbox rows,
commit, then publish."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from spendwarden.clock import to_us
from spendwarden.db import hot
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.types import Agent
from spendwarden.ledger.windows import HOUR_US, window_keys_us

STATE_FIELDS = ("seq", "head_id", "head_hash", "held", "signal_state", "signal_watch_until")


@contextmanager
def agent_unit(
    core: LedgerCore, agent_id: str, *, with_spend: bool = False, task_id: str | None = None
) -> Iterator[TxContext]:
    """Run a block under the agent's lock; publish what it emitted only after commit.

    ``with_spend`` reads the agent's current window counters (and ``task_id``'s) with
    the agent's state, for the block's first ``current_spend``.
    """
    now = core.clock.now()
    postgres = core.store.is_postgres
    with core.store.write() as conn:
        prefetched = None
        if not with_spend:
            found = hot.lock_agent(conn, postgres, agent_id)
        else:
            now_us = to_us(now)
            with_counters = hot.lock_agent_with_counters(
                conn, postgres, agent_id, window_keys_us(now_us), task_id
            )
            found = with_counters[:2] if with_counters is not None else None
            if with_counters is not None:
                prefetched = (now_us // HOUR_US, task_id, with_counters[2])
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
            prefetched=prefetched,
        )
        before = {f: state[f] for f in STATE_FIELDS}
        yield ctx
        changed = {f: state[f] for f in STATE_FIELDS if state[f] != before[f]}
        if changed:
            changed["updated_at"] = ctx.now_us
        core.stage(conn, ctx.emitted)
        if changed and postgres:
            hot.update_state_and_commit(conn, agent_id, changed)
        elif changed:
            hot.update_state(conn, postgres, agent_id, changed)
    core.publish(ctx.emitted)


@contextmanager
def agents_unit(core: LedgerCore, agent_ids: list[str]) -> Iterator[dict[str, TxContext]]:
    """``agent_unit`` for many agents in ONE transaction (the bulk path): every agent's row
    is locked in id order, each gets its own context, states flush together, and emitted
    events are published after the single commit. Unknown agents are simply absent."""
    now = core.clock.now()
    postgres = core.store.is_postgres
    with core.store.write() as conn:
        locked = hot.lock_agents(conn, postgres, agent_ids)
        contexts = {
            agent_id: TxContext(
                conn=conn, store=core.store, agent=_agent(row), state=state, now=now, observers=core.observers
            )
            for agent_id, (state, row) in locked.items()
        }
        before = {a: {f: c.state[f] for f in STATE_FIELDS} for a, c in contexts.items()}
        yield contexts
        changed = [
            {**{f: c.state[f] for f in STATE_FIELDS}, "updated_at": c.now_us, "agent_id": a}
            for a, c in contexts.items()
            if any(c.state[f] != before[a][f] for f in STATE_FIELDS)
        ]
        hot.update_states(conn, postgres, (*STATE_FIELDS, "updated_at"), changed)
        emitted = [e for c in contexts.values() for e in c.emitted]
        core.stage(conn, emitted)
    core.publish(emitted)


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
    clone = object.__new__(Agent)
    clone.__dict__.update(agent.__dict__)
    return clone
