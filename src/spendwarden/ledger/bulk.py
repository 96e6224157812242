"""The bulk write path: many spends of many agents in one transaction and one INSERT.

Used by ``POST /v1/ingest/events``, webhooks, file imports and the socket sidecar. It keeps
every promise of ``append`` (chain, counters, breach checks, observers, live events) but
pays the per-statement and per-commit costs once per batch instead of once per row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from sqlalchemy.exc import IntegrityError

from spendwarden.clock import iso_us
from spendwarden.db import hot, joined
from spendwarden.events import SpendEvent
from spendwarden.interpreter import paused_gc
from spendwarden.ledger.chain import TXN_COLUMNS, TXN_INDEX
from spendwarden.ledger.context import Emitted, LedgerCore, TxContext, observe_batch
from spendwarden.ledger.fits import unfit_field
from spendwarden.ledger.horizon import GRACE_US
from spendwarden.ledger.record import can_break, check_after_spend, counter_sums, seal_rows, spend_read_keys
from spendwarden.ledger.retention import before_late_spends
from spendwarden.ledger.unit import agents_unit
from spendwarden.ledger.windows import HOUR_US
from spendwarden.money import format_amount

_COUNTED = itemgetter(*(TXN_INDEX[c] for c in ("status", "amount", "occurred_at", "task_id")))
_SEQ, _AMOUNT, _STATUS, _TASK, _OCCURRED = (
    TXN_INDEX[c] for c in ("seq", "amount", "status", "task_id", "occurred_at")
)

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
    with paused_gc():  # the batch's rows live until it ends: collections only walk them again
        groups = _first_of_each_by_agent(events, result)
        for chunk in _chunks(groups):
            try:
                _record_agents(core, chunk, result)
            except (IntegrityError, psycopg.IntegrityError, sqlite3.IntegrityError):
                # Another writer recorded one of these external ids between our check and our
                # insert; the retry (a fresh transaction) sees its row and counts ours a duplicate.
                # (The rows go in on the raw driver, whose own error arrives unwrapped.)
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
    chain each agent's rows, insert every row at once, then counters, checks and observers.

    Rows travel as tuples in ``TXN_COLUMNS`` order (what the driver takes); dicts are built
    only for observers and for the few rows a breach check looks at."""
    accepted: list[tuple[int, str]] = []
    with agents_unit(core, list(groups)) as contexts:
        for agent_id in groups.keys() - contexts.keys():
            for index, _event in groups[agent_id]:
                result.rejected[index] = Rejection(
                    index, "unknown_agent", f"No agent {agent_id!r}; create it first.", {"agent_id": agent_id}
                )
        if not contexts:
            return
        first = next(iter(contexts.values()))
        conn, postgres = first.conn, core.store.is_postgres
        known = _known_externals(first, groups)
        sealed: list[tuple[TxContext, list[tuple[Any, ...]]]] = []
        updates: list[dict[str, Any]] = []
        late: list[tuple[str, int]] = []
        edge = first.now_us - GRACE_US  # one time for the whole unit
        with hot.transaction_rows(conn, postgres, TXN_COLUMNS) as insert:  # sent as sealed
            for agent_id, ctx in contexts.items():
                fresh = _fresh(groups[agent_id], known, result)
                if fresh:
                    values = seal_rows(ctx, [event for _index, event in fresh])
                    insert(values)
                    sealed.append((ctx, values))
                    accepted += zip([index for index, _e in fresh], [v[0] for v in values], strict=True)
                    # While the server takes these rows: what they add to the counters, and
                    # which are late (on PostgreSQL this overlaps the COPY, not after it).
                    updates += counter_sums(agent_id, list(map(_COUNTED, values)))
                    late += [(agent_id, v[_OCCURRED]) for v in values if v[_OCCURRED] < edge]
        if not sealed:
            return
        if late:  # windows that closed long ago may have been pruned: back before adding
            before_late_spends(first, late)
        _add_spend(conn, postgres, updates)
        _prefetch_counters(conn, postgres, sealed)
        for ctx, values in sealed:
            _check_breaches(ctx, values)
        if core.observers:  # after every check, as for one agent; each observer sees all agents at once
            observe_batch(
                core.observers,
                [(ctx, [dict(zip(TXN_COLUMNS, v, strict=True)) for v in values]) for ctx, values in sealed],
            )
        for ctx, values in sealed:
            _emit(ctx, values)
    result.accepted.update(accepted)


# PostgreSQL: every counter of the batch in ONE upsert (columns unnested server-side, sent
# joined: ``db/joined.py``) instead of one pipelined statement per counter. Keys are unique
# within a batch (summed first).
_ADD_SPEND_PG = """
INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)
SELECT a, s, p, m, 0, c
FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[]) AS u(a, s, p, m, c)
ON CONFLICT (agent_id, scope, period) DO UPDATE
SET amount = spend_counters.amount + excluded.amount, count = spend_counters.count + excluded.count"""


def _add_spend(conn: Any, postgres: bool, updates: list[dict[str, Any]]) -> None:
    if not postgres or not updates:
        hot.add_spend(conn, postgres, updates)
        return
    columns = [[u[k] for u in updates] for k in ("agent_id", "scope", "period", "amount", "count")]
    joined.execute(hot.raw(conn), _ADD_SPEND_PG, columns)


def _prefetch_counters(
    conn: Any, postgres: bool, sealed: list[tuple[TxContext, list[tuple[Any, ...]]]]
) -> None:
    """After the batch's counter writes: every counter the breach checks and the detectors
    may read for these rows, in one statement, kept on each agent's context. Only agents
    with a cap or a halt rule read counters at all."""
    wanted: list[tuple[TxContext, set[tuple[str, str]]]] = []
    for ctx, values in sealed:
        if ctx.agent.caps or can_break(ctx):
            keys: set[tuple[str, str]] = set()
            for when, task_id in {(v[_OCCURRED] // HOUR_US, v[_TASK]) for v in values}:
                keys.update(spend_read_keys(when * HOUR_US, task_id).items())
            wanted.append((ctx, keys))
    if not wanted:
        return
    found = hot.counters_by_key(conn, postgres, [(c.agent.id, s, p) for c, keys in wanted for s, p in keys])
    for ctx, keys in wanted:
        ctx.counters_known = {(s, p): found.get((ctx.agent.id, s, p)) for s, p in keys}


def _known_externals(ctx: TxContext, groups: dict[str, list[tuple[int, SpendEvent]]]) -> set[tuple[str, str]]:
    """Under the agents' locks: which (source, external_id) of these events are recorded."""
    by_source: dict[str, list[str]] = {}
    for indexed in groups.values():
        for _index, event in indexed:
            if event.external_id is not None:
                by_source.setdefault(event.source, []).append(event.external_id)
    known: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        known.update((source, ext) for ext in _existing(ctx.conn, ctx.store.is_postgres, source, ids))
    return known


# One parameter for the whole id list: a JSON array on SQLite, on PostgreSQL the ids joined
# in one text (``db/joined.py``; an array when an id holds a separator). The unique index on
# (source, external_id) answers each probe.
_EXISTING_SQLITE = (
    "SELECT external_id FROM transactions"
    " WHERE source = ? AND external_id IN (SELECT value FROM json_each(?))"
)
_EXISTING_PG = "SELECT external_id FROM transactions WHERE source = %s AND external_id = ANY(%b::text[])"


def _existing(conn: Any, postgres: bool, source: str, external_ids: list[str]) -> list[str]:
    cur = hot.raw(conn).cursor()
    found: list[str] = []
    for start in range(0, len(external_ids), 50_000):
        chunk = external_ids[start : start + 50_000]
        if postgres:
            joined.execute(cur, _EXISTING_PG, [source, chunk])
        else:
            cur.execute(_EXISTING_SQLITE, (source, orjson.dumps(chunk).decode()))
        found += [r[0] for r in cur.fetchall()]
    return found


def _fresh(
    indexed: list[tuple[int, SpendEvent]], known: set[tuple[str, str]], result: BatchResult
) -> list[tuple[int, SpendEvent]]:
    if not known:
        return indexed
    fresh: list[tuple[int, SpendEvent]] = []
    for index, event in indexed:
        if event.external_id is not None and (event.source, event.external_id) in known:
            result.duplicates[index] = event.external_id
        else:
            fresh.append((index, event))
    return fresh


def _first_of_each_by_agent(
    events: list[SpendEvent], result: BatchResult
) -> dict[str, list[tuple[int, SpendEvent]]]:
    """Group by agent in batch order, dropping repeats of one ``(source, external_id)`` inside
    the batch (the first one wins, the others are reported as duplicates) and refusing
    events the ledger cannot store (``ledger/fits.py``)."""
    seen: set[tuple[str, str]] = set()
    groups: dict[str, list[tuple[int, SpendEvent]]] = {}
    for index, event in enumerate(events):
        unfit = unfit_field(event)
        if unfit is not None:  # the ledger could not store it: this event alone is refused
            name, reason = unfit
            result.rejected[index] = Rejection(index, "invalid_field", f"{name} {reason}.", {"field": name})
            continue
        external = event.external_id
        if external is not None:
            key = (event.source, external)
            if key in seen:
                result.duplicates[index] = external
                continue
            seen.add(key)
        group = groups.get(event.agent_id)
        if group is None:
            groups[event.agent_id] = [(index, event)]
        else:
            group.append((index, event))
    return groups


def _check_breaches(ctx: TxContext, values: list[tuple[Any, ...]]) -> None:
    """Run the post-spend checks on the rows that can break something, not on every row.

    Window caps depend only on the counters (now final) and the window, so the last row of
    each hour (whose windows hold every longer one it falls in) and of each task stands for
    its peers (one per day missed an hourly cap broken in an earlier hour of that day); the
    largest row stands for ``per_transaction`` and single-charge halt rules. An agent with no
    cap and no halt rule switched on cannot break anything: nothing is read for it.
    """
    if not can_break(ctx):
        return
    settled = [v for v in values if v[_STATUS] == "settled" and v[_AMOUNT] > 0]
    if not settled:
        return
    picks: dict[object, tuple[Any, ...]] = {}
    for v in settled:
        picks[("hour", v[_OCCURRED] // HOUR_US)] = v
        if v[_TASK]:
            picks[("task", v[_TASK])] = v
    picks["largest"] = max(settled, key=lambda v: v[_AMOUNT])
    checked: set[str] = set()
    for v in [*picks.values(), settled[-1]]:
        if v[0] not in checked:
            checked.add(v[0])
            check_after_spend(ctx, dict(zip(TXN_COLUMNS, v, strict=True)))


def _emit(ctx: TxContext, values: list[tuple[Any, ...]]) -> None:
    """One ``transaction.recorded`` per row, or one summary for very large agent batches
    (a million live events would swamp the stream; the summary names the seq range)."""
    if len(values) <= PER_ROW_EVENT_LIMIT:
        recorded = iso_us(ctx.now_us)
        ctx.emitted.extend(map(RowRecorded, values, repeat(recorded)))
        return
    ctx.emit(
        "transaction",
        "transaction.batch_recorded",
        {
            "agent_id": ctx.agent.id,
            "count": len(values),
            "amount_usd": format_amount(sum(v[_AMOUNT] for v in values if v[_STATUS] == "settled")),
            "first_id": values[0][0],
            "last_id": values[-1][0],
            "from_seq": values[0][_SEQ],
            "to_seq": values[-1][_SEQ],
        },
    )


class RowRecorded(Emitted):
    """``transaction.recorded`` for a bulk row: the payload (``render.transaction_public``) is
    rendered from the immutable row tuple on first read and kept, so a publisher that never
    looks at it (the live hub with no subscriber, webhooks with no subscription) costs
    nothing, and every reader gets the same dict it would have got."""

    kind = "transaction"
    name = "transaction.recorded"

    def __init__(self, values: tuple[Any, ...], recorded_at: str) -> None:
        self.__dict__["_row"] = (values, recorded_at)

    @cached_property
    def payload(self) -> dict[str, Any]:  # type: ignore[override]
        values, recorded_at = self.__dict__["_row"]
        return public_of(values, recorded_at)


(
    _ORIG_AMOUNT, _ORIG_CURRENCY, _RAIL, _VENDOR, _TOOL, _ENDPOINT, _MODEL, _IN, _OUT, _CACHE_READ,
    _CACHE_WRITE, _KIND, _ATTEMPT, _USER, _COUNTERPARTY, _DESCRIPTION, _METADATA, _SOURCE, _EXTERNAL,
    _PRICE_VERSION, _HOLD, _PREV_HASH, _HASH,
) = (
    TXN_INDEX[c]
    for c in (
        "original_amount", "original_currency", "rail", "vendor", "tool", "endpoint", "model",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "kind", "attempt",
        "user_id", "counterparty_agent_id", "description", "metadata", "source", "external_id",
        "price_version", "hold_id", "prev_hash", "hash",
    )
)  # fmt: skip


def public_of(v: tuple[Any, ...], recorded_at: str) -> dict[str, Any]:
    """``render.transaction_public`` of a row tuple (same keys, same values), with
    ``recorded_at`` rendered once per batch by the caller."""
    tokens_in, tokens_out = v[_IN], v[_OUT]
    usage = None
    if tokens_in is not None or tokens_out is not None:
        usage = {
            "input_tokens": tokens_in or 0,
            "output_tokens": tokens_out or 0,
            "cache_read_tokens": v[_CACHE_READ] or 0,
            "cache_write_tokens": v[_CACHE_WRITE] or 0,
        }
    metadata = v[_METADATA]
    return {
        "id": v[0],
        "agent_id": v[1],
        "seq": v[_SEQ],
        "amount_usd": format_amount(v[_AMOUNT]),
        "original_amount": v[_ORIG_AMOUNT],
        "original_currency": v[_ORIG_CURRENCY],
        "rail": v[_RAIL],
        "vendor": v[_VENDOR],
        "tool": v[_TOOL],
        "endpoint": v[_ENDPOINT],
        "model": v[_MODEL],
        "usage": usage,
        "kind": v[_KIND],
        "status": v[_STATUS],
        "attempt": v[_ATTEMPT],
        "task_id": v[_TASK],
        "user_id": v[_USER],
        "counterparty_agent_id": v[_COUNTERPARTY],
        "description": v[_DESCRIPTION],
        "metadata": {} if metadata is None else orjson.loads(metadata),
        "source": v[_SOURCE],
        "external_id": v[_EXTERNAL],
        "occurred_at": iso_us(v[_OCCURRED]),
        "recorded_at": recorded_at,
        "price_version": v[_PRICE_VERSION],
        "hold_id": v[_HOLD],
        "prev_hash": v[_PREV_HASH],
        "hash": v[_HASH],
    }
