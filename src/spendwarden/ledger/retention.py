"""Keeping window counters bounded: prune closed ones, give a late spend its windows back.

The rules are in ``ledger/horizon.py``. Here they meet the database: ``before_late_spends``
and ``past_amounts`` run inside a spend's transaction, under the agent's lock;
``CounterPruner`` is the periodic job (one pass an hour, a slice of agents per tick);
``prune_counters`` is the whole pass that ``spendwarden prune`` runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from spendwarden.clock import Clock, to_us
from spendwarden.db import past_counters
from spendwarden.db.store import Store
from spendwarden.ledger.context import TxContext
from spendwarden.ledger.horizon import ClosedWindow, closed_windows, closed_windows_of, first_kept
from spendwarden.ledger.windows import HOUR_US

# Agents per prune transaction: it holds their locks (an authorization of one of them waits
# for it), so it stays a few milliseconds long.
CHUNK = 100


def before_late_spends(ctx: TxContext, spends: Iterable[tuple[str, int]]) -> None:
    """Before ``(agent_id, occurred_us)`` spends are added to counters: rebuild the counters
    of their windows that closed long ago and were pruned, from the rollups. Windows are
    whole hours or more, so each agent-hour is looked at once (an import of old history has
    thousands of rows per hour)."""
    now_us = ctx.now_us
    hours = {(agent_id, at - at % HOUR_US) for agent_id, at in spends}
    wanted = [(agent_id, *_key(w)) for agent_id, hour in hours for w in closed_windows(hour, now_us)]
    past_counters.rebuild_missing(ctx.conn, ctx.store.is_postgres, wanted)


def past_amounts(ctx: TxContext, scope: str, moments_us: list[int]) -> dict[str, int]:
    """Net spend of the agent per period of the ``scope`` windows holding ``moments_us``,
    for the halt rules' look back: counters as they are, and for windows closed long ago
    the counter or, where it was pruned, the rollups."""
    closed = closed_windows_of(scope, moments_us, ctx.now_us)
    if not closed:
        return {}
    agent_id = ctx.agent.id
    return past_counters.read_amounts(ctx.conn, ctx.store.is_postgres, [(agent_id, *_key(w)) for w in closed])


def _key(w: ClosedWindow) -> tuple[str, str, str, int, int]:
    return (w.scope, w.period, w.granularity, w.start_us, w.end_us)


def prune_counters(
    store: Store,
    now_us: int,
    retention_days: int,
    *,
    after: str = "",
    budget_seconds: float | None = None,
) -> tuple[str | None, int]:
    """Delete counters of windows that closed more than ``retention_days`` before
    ``now_us``, ``CHUNK`` agents per transaction from the agent after ``after``. Stops at
    the end (returns None and the count) or when the budget is spent (returns where to
    go on from)."""
    first = first_kept(now_us, retention_days)
    started, deleted = time.monotonic(), 0
    while True:
        with store.write() as conn:
            last, n = past_counters.prune_after(conn, store.is_postgres, after, CHUNK, first)
        deleted += n
        if last is None:
            return None, deleted
        after = last
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            return after, deleted


class CounterPruner:
    """The periodic job: a pass over every agent each ``every_us``, in slices of at most
    ``budget_seconds`` per tick, so a pass never holds a long transaction or the SQLite
    write lock for long. The cursor lives in the process: if leadership moves, the new
    leader starts a pass of its own (deleting twice is harmless)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        retention_days: int,
        *,
        every_us: int = HOUR_US,
        budget_seconds: float = 0.2,
    ) -> None:
        self.store, self.clock, self.retention_days = store, clock, retention_days
        self.every_us, self.budget_seconds = every_us, budget_seconds
        self.next_pass_us = 0
        self.cursor: str | None = None  # None: no pass under way
        self.deleted = 0  # over the process's life

    def __call__(self) -> int:
        """One tick; returns the counters deleted in it."""
        now_us = to_us(self.clock.now())
        if self.cursor is None:
            if now_us < self.next_pass_us:
                return 0
            self.cursor, self.next_pass_us = "", now_us + self.every_us
        self.cursor, deleted = prune_counters(
            self.store, now_us, self.retention_days, after=self.cursor, budget_seconds=self.budget_seconds
        )
        self.deleted += deleted
        return deleted
