"""Folding the fleet journal into ``fleet_rollups`` (minute, hour, day) and ``fleet_spans``
(4 h, 12 h, 2 to 64 days: what lets a fleet window be read as a few signed blocks).

Why a journal: fleet-wide rows (total spend per hour, spend per model, …) are shared by
every agent. Updating them inside each agent's transaction would make all agents queue
on the same few rows (and deadlock-prone on PostgreSQL), breaking "one agent, one lock".
So the observer only inserts journal rows, and this fold — run by the sweeper every
second and before benchmarks — takes a batch out of the journal and adds it to every
fleet level *in one transaction*. Every journal row is therefore counted exactly once: either
still in the journal or already folded. Fleet queries read both in one snapshot, so they
are exact even between folds; the fold only keeps the journal small so queries stay fast.

On PostgreSQL several replicas may fold at once: ``FOR UPDATE SKIP LOCKED`` hands each a
disjoint batch and the upsert is ordered by key, so they neither double-count nor deadlock.
"""

from __future__ import annotations

import time

from spendwarden.db import queries_analytics as qa
from spendwarden.db.store import Store


def fold_once(store: Store, batch: int, minutes_from: int | None = None) -> int:
    """Fold up to ``batch`` journal rows in one transaction; returns how many were folded.
    The summing happens inside the database (INSERT … SELECT … GROUP BY per level)."""
    with store.write() as conn:
        return qa.fold_journal_batch(conn, store.is_postgres, batch, minutes_from)


def fold_journal(
    store: Store, *, batch: int = 5000, budget_seconds: float | None = None, minutes_from: int | None = None
) -> int:
    """Fold until the journal is empty (or the time budget is spent); short transactions
    keep the SQLite write lock free for spends in between. Fleet minute cells before
    ``minutes_from`` (minute retention's edge; no read uses them) are skipped."""
    with store.read() as conn:  # an idle journal costs a read, not the SQLite write lock
        if not qa.journal_size(conn):
            return 0
    started = time.monotonic()
    total = 0
    while True:
        folded = fold_once(store, batch, minutes_from)
        total += folded
        if folded < batch:
            return total
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            return total
