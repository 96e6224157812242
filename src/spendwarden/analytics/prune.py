"""Retention: delete raw ledger rows the rollups already hold, keeping the chain provable.

The cut is a UTC midnight (``now - older_than``, floored), so the billing archive holds
whole days. Each agent's chain is pruned as a *prefix*: rows up to the last sequence
number before the first row that occurred at or after the cut (a late backfill keeps its
later rows). For every chunk, in one transaction: the rows are summed into
``billing_archive`` (reports on pruned periods still reconcile), a ``chain_checkpoints``
row records the sequence, id and hash of the last pruned row (``verify`` starts from it),
and the rows are deleted. Rollups are untouched — they were written when the rows were —
so every analytics total stays the same. Closed holds and idempotency keys older than
the cut go too, and minute rollups older than ``analytics_minute_retention_days``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from spendwarden.analytics.rollup import DAY_US
from spendwarden.clock import to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_analytics as qa
from spendwarden.db.store import Store
from spendwarden.errors import ValidationFailed

CHUNK = 20_000


@dataclass
class PruneResult:
    cut_us: int
    agents: int = 0
    transactions: int = 0
    holds: int = 0
    idempotency_keys: int = 0
    minute_rollups: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m`` → a timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValidationFailed("Use an age like 90d, 12h or 30m.", older_than=text)
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def cut_for(now: datetime, older_than: timedelta) -> int:
    at = to_us(now - older_than)
    return at - at % DAY_US


def plan(store: Store, cut_us: int) -> tuple[list[str], int]:
    """Agents with rows before the cut and how many rows that is (for the confirmation)."""
    with store.read() as conn:
        return qa.agents_with_rows_before(conn, cut_us), qa.count_prunable(conn, cut_us)


def prune(
    store: Store,
    now: datetime,
    older_than: timedelta,
    *,
    minute_retention_days: int,
    progress: Callable[[str, int], None] | None = None,
) -> PruneResult:
    result = PruneResult(cut_us=cut_for(now, older_than))
    agent_ids, _ = plan(store, result.cut_us)
    for agent_id in agent_ids:
        removed = prune_agent(store, agent_id, result.cut_us, to_us(now))
        if removed:
            result.agents += 1
            result.transactions += removed
        if progress is not None:
            progress(agent_id, removed)
    with store.write() as conn:
        result.holds = qa.delete_closed_holds(conn, result.cut_us)
        result.idempotency_keys = qa.delete_idempotency(conn, result.cut_us)
        result.minute_rollups = qa.delete_minute_rollups(conn, to_us(now) - minute_retention_days * DAY_US)
    return result


def prune_agent(store: Store, agent_id: str, cut_us: int, now_us: int) -> int:
    """Prune one agent's chain prefix in chunks; returns rows removed."""
    removed = 0
    while True:
        with store.write() as conn:
            last = qa.prune_boundary(conn, agent_id, cut_us)
            checkpoint = q.get_checkpoint(conn, agent_id)
            done = int(checkpoint["seq"]) if checkpoint else 0
            if last is None or last <= done:
                return removed
            rows = qa.rows_through(conn, agent_id, last, CHUNK)
            if not rows:
                return removed
            qa.archive_add(conn, store.is_postgres, archive_lines(agent_id, rows, now_us))
            tail = rows[-1]
            qa.put_checkpoint(
                conn,
                store.is_postgres,
                {
                    "agent_id": agent_id,
                    "seq": int(tail["seq"]),
                    "head_id": tail["id"],
                    "head_hash": tail["hash"],
                    "cut_at": cut_us,
                },
            )
            removed += qa.delete_through(conn, agent_id, int(tail["seq"]))


def archive_lines(agent_id: str, rows: list[dict[str, Any]], now_us: int) -> list[dict[str, Any]]:
    """Pruned rows summed per day and billing line, with the sequence range they covered."""
    acc: dict[tuple[int, str, str, str], dict[str, Any]] = {}
    for r in rows:
        day = int(r["occurred_at"]) - int(r["occurred_at"]) % DAY_US
        key = (day, r["vendor"] or "", r["model"] or "", r["rail"])
        line = acc.get(key)
        if line is None:
            line = acc[key] = {
                "agent_id": agent_id,
                "day_us": day,
                "vendor": key[1],
                "model": key[2],
                "rail": key[3],
                "amount": 0,
                "settled_amount": 0,
                "refunded_amount": 0,
                "count": 0,
                "first_seq": r["seq"],
                "first_id": r["id"],
                "pruned_at": now_us,
            }
        amount = int(r["amount"])
        if r["status"] == "settled":
            line["settled_amount"] += amount
            line["amount"] += amount
        elif r["status"] == "refunded":
            line["refunded_amount"] += amount
            line["amount"] -= amount
        line["count"] += 1
        line["last_seq"], line["last_id"] = r["seq"], r["id"]
    return list(acc.values())
