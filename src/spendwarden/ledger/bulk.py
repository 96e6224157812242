"""The bulk write path: many spends, one transaction per agent, one INSERT per agent batch.

Used by ``POST /v1/ingest/events``, webhooks, file imports and the socket sidecar. It keeps
every promise of ``append`` (chain, counters, breach checks, observers, live events) but
pays the per-statement costs once per agent batch instead of once per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.exc import IntegrityError

from spendwarden.db import queries_ingest as qi
from spendwarden.errors import AgentNotFound
from spendwarden.events import SpendEvent
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.record import add_counters, build_row, chain_row, check_after_spend
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.unit import agent_unit
from spendwarden.money import format_amount

# Above this many rows per agent batch, one summary event replaces per-row live events.
PER_ROW_EVENT_LIMIT = 1000


@dataclass(frozen=True)
class Rejection:
    """Why one event of a batch was not written; ``index`` is its position in the batch."""

    index: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclass
class BatchResult:
    """Per event of the batch: accepted (with its new row id), duplicate (with the
    external id already recorded) or rejected (with the reason). Keys are batch indexes."""

    accepted: dict[int, str] = field(default_factory=dict)
    duplicates: dict[int, str] = field(default_factory=dict)
    rejected: dict[int, Rejection] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejected),
        }


def record_batch(core: LedgerCore, events: list[SpendEvent]) -> BatchResult:
    """Record ``events`` exactly once each; a bad or unknown-agent event never fails the rest."""
    result = BatchResult()
    for agent_id, indexed in _by_agent(_first_of_each(events, result)).items():
        try:
            _record_agent(core, agent_id, indexed, result)
        except (IntegrityError, psycopg.IntegrityError):
            # Another writer (for another agent) recorded one of these external ids between
            # our check and our insert; the retry sees its row and counts ours as a duplicate.
            _record_agent(core, agent_id, indexed, result)
        except AgentNotFound:
            for index, _event in indexed:
                result.rejected[index] = Rejection(
                    index, "unknown_agent", f"No agent {agent_id!r}; create it first.", {"agent_id": agent_id}
                )
    return result


def _first_of_each(events: list[SpendEvent], result: BatchResult) -> list[tuple[int, SpendEvent]]:
    """Drop repeats of one ``(source, external_id)`` inside the batch: the first one wins."""
    seen: set[tuple[str, str]] = set()
    kept: list[tuple[int, SpendEvent]] = []
    for index, event in enumerate(events):
        if event.external_id is not None:
            key = (event.source, event.external_id)
            if key in seen:
                result.duplicates[index] = event.external_id
                continue
            seen.add(key)
        kept.append((index, event))
    return kept


def _by_agent(indexed: Iterable[tuple[int, SpendEvent]]) -> dict[str, list[tuple[int, SpendEvent]]]:
    groups: dict[str, list[tuple[int, SpendEvent]]] = {}
    for index, event in indexed:
        groups.setdefault(event.agent_id, []).append((index, event))
    return groups


def _record_agent(
    core: LedgerCore, agent_id: str, indexed: list[tuple[int, SpendEvent]], result: BatchResult
) -> None:
    with agent_unit(core, agent_id) as ctx:
        fresh = _not_yet_recorded(ctx, indexed, result)
        rows = [chain_row(ctx, build_row(ctx, event, None)) for _index, event in fresh]
        if not rows:
            return
        qi.bulk_insert_transactions(ctx.conn, rows)
        add_counters(ctx, agent_id, rows)
        _check_breaches(ctx, rows)
        for observer in ctx.observers:
            observer.on_transactions(ctx, rows)
        _emit(ctx, rows)
    for (index, _event), row in zip(fresh, rows, strict=True):
        result.accepted[index] = row["id"]


def _not_yet_recorded(
    ctx: TxContext, indexed: list[tuple[int, SpendEvent]], result: BatchResult
) -> list[tuple[int, SpendEvent]]:
    """Under the agent's lock: drop events whose external id is already in the ledger."""
    by_source: dict[str, list[str]] = {}
    for _index, event in indexed:
        if event.external_id is not None:
            by_source.setdefault(event.source, []).append(event.external_id)
    known = {
        (source, ext)
        for source, ids in by_source.items()
        for ext in qi.existing_externals_of(ctx.conn, source, ids)
    }
    fresh: list[tuple[int, SpendEvent]] = []
    for index, event in indexed:
        if event.external_id is not None and (event.source, event.external_id) in known:
            result.duplicates[index] = event.external_id
        else:
            fresh.append((index, event))
    return fresh


def _check_breaches(ctx: TxContext, rows: list[dict[str, Any]]) -> None:
    """Run the post-spend checks on the rows that can break something, not on every row.

    Window caps depend only on the counters (now final) and the window, so the last row of
    each day and of each task stands for its peers; the largest row stands for
    ``per_transaction`` and single-charge halt rules.
    """
    settled = [r for r in rows if r["status"] == "settled" and r["amount"] > 0]
    if not settled:
        return
    picks: dict[object, dict[str, Any]] = {}
    for row in settled:
        picks[("day", row["occurred_at"] // 86_400_000_000)] = row
        if row["task_id"]:
            picks[("task", row["task_id"])] = row
    picks["largest"] = max(settled, key=lambda r: r["amount"])
    checked: set[str] = set()
    for row in [*picks.values(), settled[-1]]:
        if row["id"] not in checked:
            checked.add(row["id"])
            check_after_spend(ctx, row)


def _emit(ctx: TxContext, rows: list[dict[str, Any]]) -> None:
    """One ``transaction.recorded`` per row, or one summary for very large agent batches
    (a million live events would swamp the stream; the summary names the seq range)."""
    if len(rows) <= PER_ROW_EVENT_LIMIT:
        for row in rows:
            ctx.emit("transaction", "transaction.recorded", transaction_public(row))
        return
    ctx.emit(
        "transaction",
        "transaction.batch_recorded",
        {
            "agent_id": ctx.agent.id,
            "count": len(rows),
            "amount_usd": format_amount(sum(r["amount"] for r in rows if r["status"] == "settled")),
            "first_id": rows[0]["id"],
            "last_id": rows[-1]["id"],
            "from_seq": rows[0]["seq"],
            "to_seq": rows[-1]["seq"],
        },
    )
