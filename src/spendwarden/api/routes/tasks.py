"""Task events from agents (`POST /v1/tasks/events`) and the admin's view of tasks."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from spendwarden.api.deps import AgentDep, LedgerDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Moment, Short, Strict
from spendwarden.db import queries_signals as qs
from spendwarden.errors import NotFound, ValidationFailed
from spendwarden.tasks import TaskEvent, record_task_event, task_public

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422)
}


class TaskScope(BaseModel):
    """Limits of one task: more than ``max_tool_calls`` calls, or a tool outside ``tools``,
    raises ``task_scope``. Other keys are kept as given."""

    model_config = ConfigDict(extra="allow")
    max_tool_calls: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    tools: Annotated[list[Short], Field(max_length=200)] | None = None


class TaskEventBody(Strict):
    type: Literal["task.started", "task.progress", "task.completed", "task.failed"]
    task_id: Short
    occurred_at: Moment | None = None
    scope: TaskScope | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None
    error: Annotated[str, Field(max_length=2000, description="Why the task failed.")] | None = None


@router.post("/events", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def task_event(body: TaskEventBody, agent: AgentDep, ledger: LedgerDep) -> dict[str, Any]:
    """Report a task's start, progress, completion or failure; answers the event and the task."""
    assert agent.agent_id is not None
    scope = body.scope.model_dump(exclude_none=True) if body.scope else None
    event = TaskEvent(
        agent_id=agent.agent_id,
        task_id=body.task_id,
        type=body.type,
        occurred_at=body.occurred_at,
        scope=scope or None,
        note=body.note or (f"error: {body.error}" if body.error else None),
    )
    return record_task_event(ledger.core, event)


def _encode(row: dict[str, Any]) -> str:
    raw = orjson.dumps([row["created_at"], row["agent_id"], row["task_id"]])
    return base64.urlsafe_b64encode(raw).decode()


def _decode(cursor: str) -> tuple[int, str, str]:
    try:
        at, agent, task = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(at), str(agent), str(task)
    except Exception:
        raise ValidationFailed("cursor: not a cursor this API returned.", cursor=cursor) from None


@router.get("", responses=ERRORS)
def list_tasks(
    viewer: ViewerDep,
    ledger: LedgerDep,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["running", "completed", "failed"] | None = None,
    cursor: Annotated[str | None, Query(max_length=600, description="`next` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Newest first with cost so far and tool calls; pass ``next`` back as ``cursor``."""
    after = _decode(cursor) if cursor else None
    with ledger.store.read() as conn:
        rows = qs.list_tasks(conn, agent_id=agent_id, status=status, after=after, limit=limit)
    items = [task_public(r) for r in rows]
    return {"items": items, "next": _encode(rows[-1]) if len(rows) == limit else None}


@router.get("/{agent_id}/{task_id}", responses=ERRORS)
def get_task(agent_id: str, task_id: str, viewer: ViewerDep, ledger: LedgerDep) -> dict[str, Any]:
    with ledger.store.read() as conn:
        row = qs.get_task_with_cost(conn, agent_id, task_id)
    if row is None:
        raise NotFound("No such task.", agent_id=agent_id, task_id=task_id)
    return task_public(row)
