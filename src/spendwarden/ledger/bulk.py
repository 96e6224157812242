"""The bulk write path: many spends of many agents in one transaction and one INSERT.

Used by ``POST /v1/ingest/events``, webhooks, file imports and the socket sidecar. It keeps
every promise of ``append`` (chain, counters, breach checks, observers, live events) but
pays the per-statement and per-commit costs once per batch instead of once per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.exc import IntegrityError

from spendwarden.db import hot
from spendwarden.db import queries_ingest as qi
from spendwarden.events import SpendEvent
from spendwarden.ledger.chain import TXN_COLUMNS
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.record import build_row, chain_row, check_after_spend, counter_updates
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.unit import agents_unit
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


# Agents per transaction: enough to amortise the commit, few enough to keep locks short.
AGENTS_PER_TRANSACTION = 2000
EVENTS_PER_TRANSACTION = 50_000


def record_batch(core: LedgerCore, events: list[SpendEvent]) -> BatchResult:
    """Record ``events`` exactly once each; a bad or unknown-agent event never fails the rest."""
    result = BatchResult()
    groups = _by_agent(_first_of_each(events, result))
    for chunk in _chunks(groups):
        try:
            _record_agents(core, chunk, result)
        except (IntegrityError, psycopg.IntegrityError):
            # Another writer recorded one of these external ids between our check and our
            # insert; the retry (a fresh transaction) sees its row and counts ours a duplicate.
            _record_agents(core, chunk, result)
    return result


def _chunks(
    groups: dict[str, list[tuple[int, SpendEvent]]],
) -> Iterable[dict[str, list[tuple[int, SpendEvent]]]]:
    chunk: dict[str, list[tuple[int, SpendEvent]]] = {}
    size = 0
    for agent_id, indexed in groups.items():
        if chunk and (len(chunk) >= AGENTS_PER_TRANSACTION or size + len(indexed) > EVENTS_PER_TRANSACTION):
            yield chunk
            chunk, size = {}, 0
        chunk[agent_id] = indexed
        size += len(indexed)
    if chunk:
        yield chunk


def _record_agents(
    core: LedgerCore, groups: dict[str, list[tuple[int, SpendEvent]]], result: BatchResult
) -> None:
    """One transaction for many agents: lock them all (in id order), drop known external ids,
    chain each agent's rows, insert every row at once, then counters, checks and observers."""
    accepted: list[tuple[int, str]] = []
    with agents_unit(core, list(groups)) as contexts:
        for agent_id in groups.keys() - contexts.keys():
            for index, _event in groups[agent_id]:
                result.rejected[index] = Rejection(
                    index, "unknown_agent", f"No agent {agent_id!r}; create it first.", {"agent_id": agent_id}
                )
        known = _known_externals(next(iter(contexts.values())), groups) if contexts else set()
        per_agent: list[tuple[TxContext, list[dict[str, Any]]]] = []
        for agent_id, ctx in contexts.items():
            fresh = _fresh(groups[agent_id], known, result)
            rows = [chain_row(ctx, build_row(ctx, event, None)) for _index, event in fresh]
            if rows:
                per_agent.append((ctx, rows))
                accepted += [(index, row["id"]) for (index, _e), row in zip(fresh, rows, strict=True)]
        if not per_agent:
            return
        conn, postgres = per_agent[0][0].conn, core.store.is_postgres
        hot.insert_transactions(conn, postgres, TXN_COLUMNS, [r for _c, rows in per_agent for r in rows])
        hot.add_spend(conn, postgres, [u for c, rows in per_agent for u in counter_updates(c.agent.id, rows)])
        for ctx, rows in per_agent:
            _check_breaches(ctx, rows)
            for observer in ctx.observers:
                observer.on_transactions(ctx, rows)
            _emit(ctx, rows)
    result.accepted.update(accepted)


def _known_externals(ctx: TxContext, groups: dict[str, list[tuple[int, SpendEvent]]]) -> set[tuple[str, str]]:
    """Under the agents' locks: which (source, external_id) of these events are recorded."""
    by_source: dict[str, list[str]] = {}
    for indexed in groups.values():
        for _index, event in indexed:
            if event.external_id is not None:
                by_source.setdefault(event.source, []).append(event.external_id)
    return {
        (source, ext)
        for source, ids in by_source.items()
        for ext in qi.existing_externals_of(ctx.conn, source, ids)
    }


def _fresh(
    indexed: list[tuple[int, SpendEvent]], known: set[tuple[str, str]], result: BatchResult
) -> list[tuple[int, SpendEvent]]:
    fresh: list[tuple[int, SpendEvent]] = []
    for index, event in indexed:
        if event.external_id is not None and (event.source, event.external_id) in known:
            result.duplicates[index] = event.external_id
        else:
            fresh.append((index, event))
    return fresh


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
