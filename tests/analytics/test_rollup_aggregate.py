"""``rollup.aggregate`` sums per (minute x dimensions) cell exactly as ``measures`` and
``add_into`` define (its per-row loop is inlined for the bulk path)."""

from __future__ import annotations

import random
from typing import Any

from spendwarden.analytics.rollup import (
    DAY_US,
    MINUTE_US,
    SIZES,
    Cells,
    add_into,
    aggregate,
    floor_to,
    measures,
)


def _rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(9)
    return [
        {
            "amount": rng.randrange(0, 10**6),
            "status": rng.choice(["settled", "failed", "refunded", "voided"]),
            "attempt": rng.choice([1, 2, None]),
            "input_tokens": rng.choice([None, 0, 120]),
            "output_tokens": rng.choice([None, 7]),
            "occurred_at": 1_790_000_000_000_000 + rng.randrange(3 * DAY_US),
            "model": rng.choice([None, "gpt-4o"]),
            "vendor": rng.choice([None, "openai", "stripe"]),
            "rail": rng.choice(["llm_api", "x402"]),
            "tool": rng.choice([None, "search"]),
            "kind": rng.choice(["llm_call", "payment"]),
            "user_id": rng.choice([None, "u1", "u2"]),
            "task_id": rng.choice([None, "t1", "t2"]),
        }
        for _ in range(n)
    ]


def test_aggregate_matches_per_row_measures() -> None:
    rows = _rows(3000)
    journal: Cells = {}
    tasks: Cells = {}
    for row in rows:
        values = measures(row)
        minute = floor_to(row["occurred_at"], MINUTE_US)
        dims = (row["model"] or "", row["vendor"] or "", row["rail"], row["tool"] or "", row["kind"])
        add_into(journal, (minute, *dims, row["status"], row["user_id"] or ""), values)
        if row["task_id"]:
            add_into(tasks, (floor_to(minute, DAY_US), row["task_id"]), values[:2])
    batch = aggregate("a", "team", rows)
    keys = ("bucket_start_us", "model", "vendor", "rail", "tool", "kind", "status", "user_id")
    names = ("amount", "count", "failed_count", "retry_amount", "input_tokens", "output_tokens")
    got_journal = {tuple(r[k] for k in keys): [r[m] for m in names] for r in batch["journal"]}
    assert got_journal == journal
    assert {(r["day_us"], r["task_id"]): [r["amount"], r["count"]] for r in batch["tasks"]} == tasks
    cube: Cells = {}
    for key, values in journal.items():
        for g, size in SIZES.items():
            add_into(cube, (g, floor_to(key[0], size), *key[1:-1]), values)
    cube_keys = ("granularity", "bucket_start_us", "model", "vendor", "rail", "tool", "kind", "status")
    assert {tuple(r[k] for k in cube_keys): [r[m] for m in names] for r in batch["cube"]} == cube
    assert all(r["agent_id"] == "a" and r["owner"] == "team" for r in batch["cube"] + batch["journal"])
    assert sum(r["count"] for r in batch["cube"] if r["granularity"] == "d") == len(rows)
