"""Tasks: what agents report (`task.started` … `task.failed`) and what the ledger derives.

Task events are written inside the agent's unit, serialised with its spends, so the
detectors see one ordered stream per agent. Cost per task comes from the ``per_task``
spend counter the ledger already keeps; tool calls are counted by ``TaskCounter`` as
transactions name the task. Observers that also want task events implement
``on_task_event(ctx, event)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendwarden.clock import iso, to_us
from spendwarden.db import queries_signals as qs
from spendwarden.errors import InvalidState
from spendwarden.ids import new_id
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.types import dumps, loads
from spendwarden.ledger.unit import agent_unit
from spendwarden.money import format_amount

TASK_EVENT_TYPES = ("task.started", "task.progress", "task.completed", "task.failed")
TASK_STATUSES = ("running", "completed", "failed")
COUNTED_STATUSES = ("settled", "failed")


@dataclass(frozen=True)
class TaskEvent:
    agent_id: str
    task_id: str
    type: str
    occurred_at: datetime | None = None
    scope: dict[str, Any] | None = None
    note: str | None = None


def record_task_event(core: LedgerCore, event: TaskEvent) -> dict[str, Any]:
    """Store the event, move the task along, and let observers react — one transaction."""
    with agent_unit(core, event.agent_id) as ctx:
        at = to_us(event.occurred_at) if event.occurred_at is not None else ctx.now_us
        task = qs.get_task(ctx.conn, event.agent_id, event.task_id)
        if task is not None and task["status"] != "running":
            raise InvalidState(
                f"Task {event.task_id} is already {task['status']}.",
                task_id=event.task_id,
                status=task["status"],
            )
        row = _event_row(event, at, ctx.now_us)
        qs.insert_task_event(ctx.conn, row)
        task = _apply(ctx, task, event, at)
        for observer in ctx.observers:
            hook: Callable[[TxContext, dict[str, Any]], None] | None = getattr(
                observer, "on_task_event", None
            )
            if hook is not None:
                hook(ctx, row)
        found = qs.get_task_with_cost(ctx.conn, event.agent_id, event.task_id)
        assert found is not None
        public = task_public(found)
        ctx.emit("agent", event.type, {"agent_id": event.agent_id, "task": public})
    return {"event": task_event_public(row), "task": public}


def _event_row(event: TaskEvent, at: int, now: int) -> dict[str, Any]:
    return {
        "id": new_id("tev_"),
        "agent_id": event.agent_id,
        "task_id": event.task_id,
        "type": event.type,
        "occurred_at": at,
        "recorded_at": now,
        "scope": dumps(event.scope) if event.scope else None,
        "note": event.note,
    }


def _apply(ctx: TxContext, task: dict[str, Any] | None, event: TaskEvent, at: int) -> dict[str, Any]:
    agent_id, task_id = event.agent_id, event.task_id
    if task is None:
        task = {
            "agent_id": agent_id,
            "task_id": task_id,
            "status": "running",
            "started_at": at,
            "last_progress_at": at,
            "tool_calls": 0,
            "scope": dumps(event.scope) if event.scope else None,
            "note": event.note,
            "created_at": ctx.now_us,
            "updated_at": ctx.now_us,
        }
        qs.insert_task(ctx.conn, task)
    values: dict[str, Any] = {
        "updated_at": ctx.now_us,
        "last_progress_at": max(task["last_progress_at"] or 0, at),
    }
    if event.scope:
        values["scope"] = dumps(event.scope)
    if event.note:
        values["note"] = event.note
    if event.type in ("task.completed", "task.failed"):
        values.update(status=event.type.split(".")[1], completed_at=at)
    qs.update_task(ctx.conn, agent_id, task_id, values)
    task.update(values)
    return task


class TaskCounter:
    """Observer: counts each agent's calls per task as the ledger records them."""

    def on_transactions(self, ctx: TxContext, rows: list[dict[str, Any]]) -> None:
        self.on_batch([(ctx, rows)])

    def on_batch(self, batch: list[tuple[TxContext, list[dict[str, Any]]]]) -> None:
        """Every agent's tasks of one transaction in one upsert."""
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for ctx, rows in batch:
            for row in rows:
                if row["task_id"] and row["status"] in COUNTED_STATUSES:
                    key = (ctx.agent.id, row["task_id"])
                    n, first = counts.get(key, (0, row["occurred_at"]))
                    counts[key] = (n + 1, min(first, row["occurred_at"]))
        if counts:
            ctx = batch[0][0]
            qs.add_tool_calls(ctx.conn, ctx.store.is_postgres, counts, ctx.now_us)


def task_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "agent_id": row["agent_id"],
        "task_id": row["task_id"],
        "status": row["status"],
        "started_at": iso(row["started_at"]),
        "last_progress_at": iso(row["last_progress_at"]),
        "completed_at": iso(row["completed_at"]),
        "cost_usd": format_amount(int(row.get("cost") or 0)),
        "tool_calls": int(row["tool_calls"]),
        "scope": loads(row["scope"]),
        "note": row["note"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def task_event_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "task_id": row["task_id"],
        "type": row["type"],
        "occurred_at": iso(row["occurred_at"]),
        "recorded_at": iso(row["recorded_at"]),
        "scope": loads(row["scope"]),
        "note": row["note"],
    }
