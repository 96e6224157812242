"""Keeping rollups current inside the ledger's write transaction.

``RollupObserver.on_transactions`` receives the new rows of one agent (one row from the
normal path) and ``on_batch`` those of every agent of a bulk transaction; either aggregates
them in memory and writes at most four statements: multi-row upserts into ``rollups``,
``rollups_users`` and ``rollups_tasks`` (keyed by agent, in key order, so writers lock
shared rows in one order) and one insert into the fleet journal (insert-only: no shared row
is locked). The work is proportional to the distinct
(minute x dimensions) cells of the batch, not to its rows.

Measures follow ``ledger.record.counter_delta``: ``amount`` is net spend (settled adds,
refunded subtracts, failed and voided add nothing); ``count`` counts every ledger row
(calls, whatever their status); ``failed_count`` the failed ones; ``retry_amount`` the net
spend of retries (``attempt > 1``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spendwarden.db import queries_analytics as qa
from spendwarden.ledger.context import TxContext
from spendwarden.ledger.record import counter_delta
from spendwarden.ledger.windows import DAY_US as DAY_US  # one definition, re-exported to analytics
from spendwarden.ledger.windows import HOUR_US as HOUR_US

MINUTE_US = 60_000_000
SIZES = {"m": MINUTE_US, "h": HOUR_US, "d": DAY_US}
N_MEASURES = len(qa.MEASURES)
CUBE_DIMS = ("owner", "model", "vendor", "rail", "tool", "kind", "status")
# Fleet dimensions and the journal column each reads ("total" has one key, '').
FLEET_DIMS = {dim: (None if dim == "total" else col) for dim, col in qa.FLEET_SOURCES.items()}

Cells = dict[tuple[Any, ...], list[int]]


def floor_to(us: int, size: int) -> int:
    return us - us % size


def measures(row: dict[str, Any]) -> list[int]:
    delta = counter_delta(row["status"], int(row["amount"]))
    return [
        delta,
        1,
        1 if row["status"] == "failed" else 0,
        delta if int(row.get("attempt") or 1) > 1 else 0,
        int(row.get("input_tokens") or 0),
        int(row.get("output_tokens") or 0),
    ]


def add_into(cells: Cells, key: tuple[Any, ...], values: list[int]) -> None:
    acc = cells.get(key)
    if acc is None:
        cells[key] = list(values)
    else:
        for i, v in enumerate(values):
            acc[i] += v


def aggregate(
    agent_id: str, owner: str, rows: Iterable[dict[str, Any]], minutes_from: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """One batch of ledger rows → the upsert rows for every agent rollup and the journal.
    Minute cells before ``minutes_from`` are not written (retention would drop them anyway:
    a backfill of old history costs hours and days only)."""
    journal: Cells = {}
    tasks: Cells = {}
    # ``measures`` and ``add_into`` inlined: this loop runs once per ledger row.
    for row in rows:
        status, amount = row["status"], int(row["amount"])
        delta = amount if status == "settled" else (-amount if status == "refunded" else 0)
        failed = 1 if status == "failed" else 0
        retry = delta if int(row.get("attempt") or 1) > 1 else 0
        tokens_in, tokens_out = int(row.get("input_tokens") or 0), int(row.get("output_tokens") or 0)
        occurred = int(row["occurred_at"])
        minute = occurred - occurred % MINUTE_US
        key = (
            minute,
            row["model"] or "",
            row["vendor"] or "",
            row["rail"] or "",
            row["tool"] or "",
            row["kind"],
            status,
            row["user_id"] or "",
        )
        acc = journal.get(key)
        if acc is None:
            journal[key] = [delta, 1, failed, retry, tokens_in, tokens_out]
        else:
            acc[0] += delta
            acc[1] += 1
            acc[2] += failed
            acc[3] += retry
            acc[4] += tokens_in
            acc[5] += tokens_out
        task_id = row["task_id"]
        if task_id:
            day_key = (minute - minute % DAY_US, task_id)
            acc = tasks.get(day_key)
            if acc is None:
                tasks[day_key] = [delta, 1]
            else:
                acc[0] += delta
                acc[1] += 1
    cube: Cells = {}
    users: Cells = {}
    for key, values in journal.items():
        minute, cells, user = key[0], key[1:-1], key[-1]
        for g, size in SIZES.items():
            if g == "m" and minute < minutes_from:
                continue
            bucket = floor_to(minute, size)
            add_into(cube, (g, bucket, *cells), values)
            if user:
                add_into(users, (g, bucket, user), values[:2])
    return {
        "cube": [_cube_row(agent_id, owner, k, v) for k, v in cube.items()],
        "users": [
            {
                "agent_id": agent_id,
                "granularity": g,
                "bucket_start_us": b,
                "user_id": u,
                "owner": owner,
                "amount": v[0],
                "count": v[1],
            }
            for (g, b, u), v in users.items()
        ],
        "tasks": [
            {"agent_id": agent_id, "day_us": d, "task_id": t, "amount": v[0], "count": v[1]}
            for (d, t), v in tasks.items()
        ],
        "journal": [_journal_row(agent_id, owner, k, v) for k, v in journal.items()],
    }


_M0, _M1, _M2, _M3, _M4, _M5 = qa.MEASURES  # six measures, in the order ``measures`` gives them


def _cube_row(agent_id: str, owner: str, key: tuple[Any, ...], values: list[int]) -> dict[str, Any]:
    g, bucket, model, vendor, rail, tool, kind, status = key
    return {
        "agent_id": agent_id,
        "granularity": g,
        "bucket_start_us": bucket,
        "owner": owner,
        "model": model,
        "vendor": vendor,
        "rail": rail,
        "tool": tool,
        "kind": kind,
        "status": status,
        _M0: values[0],
        _M1: values[1],
        _M2: values[2],
        _M3: values[3],
        _M4: values[4],
        _M5: values[5],
    }


def _journal_row(agent_id: str, owner: str, key: tuple[Any, ...], values: list[int]) -> dict[str, Any]:
    minute, model, vendor, rail, tool, kind, status, user = key
    return {
        "agent_id": agent_id,
        "bucket_start_us": minute,
        "owner": owner,
        "model": model,
        "vendor": vendor,
        "rail": rail,
        "tool": tool,
        "kind": kind,
        "status": status,
        "user_id": user,
        _M0: values[0],
        _M1: values[1],
        _M2: values[2],
        _M3: values[3],
        _M4: values[4],
        _M5: values[5],
    }


class RollupObserver:
    """The ledger observer that keeps every rollup current in the same transaction."""

    def __init__(self, minute_retention_days: int = 7) -> None:
        self.minute_retention_us = minute_retention_days * DAY_US

    def on_transactions(self, ctx: TxContext, rows: list[dict[str, Any]]) -> None:
        self.on_batch([(ctx, rows)])

    def on_batch(self, batch: list[tuple[TxContext, list[dict[str, Any]]]]) -> None:
        """Every agent of a bulk transaction in the same four statements: each agent's
        cells are keyed by its id, so the merged rows stay unique per upsert key."""
        if not batch:
            return
        first = batch[0][0]
        merged: dict[str, list[dict[str, Any]]] = {"cube": [], "users": [], "tasks": [], "journal": []}
        for ctx, rows in batch:
            if rows:
                cells = aggregate(ctx.agent.id, ctx.agent.owner, rows, ctx.now_us - self.minute_retention_us)
                for name, part in cells.items():
                    merged[name] += part
        qa.write_agent_rollups(first.conn, first.store.is_postgres, merged)
