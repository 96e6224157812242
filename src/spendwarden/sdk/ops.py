"""Each SDK call as a transport-neutral ``Operation``: the JSON body the API takes, built once.

The HTTP transport sends it; the embedded transport validates the very same body with
the API's own schemas and calls the ledger. So both modes accept and refuse exactly
the same input. Retry safety is decided here: authorize and settle are marked
``idempotent`` (the HTTP transport sends one key per logical call, reused by every
retry), ``record`` gets an external id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spendwarden.sdk.models import amount_text

TASK_EVENT_TYPES = ("task.started", "task.progress", "task.completed", "task.failed")


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    target: str | None = None
    idempotency_key: str | None = None
    # Retried over HTTP with a key generated per logical call (in process nothing is lost).
    idempotent: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def new_key() -> str:
    return uuid.uuid4().hex


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Leave out what the caller did not give, so server defaults apply."""
    return {k: v for k, v in fields.items() if v is not None and v != {}}


def authorize(amount: object, fields: dict[str, Any], idempotency_key: str | None = None) -> Operation:
    body = {"amount_usd": amount_text(amount), **_clean(fields)}
    return Operation(
        "authorize", "POST", "/v1/authorize", body, idempotency_key=idempotency_key, idempotent=True
    )


def settle(
    authorization_id: str,
    amount: object | None,
    usage: dict[str, Any] | None,
    fields: dict[str, Any],
    idempotency_key: str | None = None,
) -> Operation:
    body: dict[str, Any] = _clean(fields)
    if amount is not None:
        body["amount_usd"] = amount_text(amount)
    if usage is not None:
        body["usage"] = usage
    path = f"/v1/authorizations/{authorization_id}/settle"
    return Operation(
        "settle",
        "POST",
        path,
        body,
        target=authorization_id,
        idempotency_key=idempotency_key,
        idempotent=True,
    )


def void(authorization_id: str) -> Operation:
    """Voiding twice answers the same voided hold, so a retry is safe without a key."""
    path = f"/v1/authorizations/{authorization_id}/void"
    return Operation("void", "POST", path, None, target=authorization_id)


def record(amount: object | None, usage: dict[str, Any] | None, fields: dict[str, Any]) -> Operation:
    """A spend that already happened; an external id is generated so a retry never counts twice."""
    body: dict[str, Any] = _clean(fields)
    if amount is not None:
        body["amount_usd"] = amount_text(amount)
    if usage is not None:
        body["usage"] = usage
    body.setdefault("external_id", f"sdk_{new_key()}")
    occurred = body.get("occurred_at")
    if isinstance(occurred, datetime):
        body["occurred_at"] = (occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)).isoformat()
    return Operation("record", "POST", "/v1/transactions", body)


def task_type(kind: str) -> str:
    """Accept ``"started"`` as well as ``"task.started"``."""
    return kind if kind.startswith("task.") else f"task.{kind}"


def task_event(
    kind: str,
    task_id: str,
    scope: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    error: str | None = None,
) -> Operation:
    body: dict[str, Any] = {"type": task_type(kind), "task_id": task_id}
    if scope is not None:
        body["scope"] = scope
    if error is not None:
        body["error"] = error
    if occurred_at is not None:  # else the server's clock stamps it: no client clock skew
        when = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
        body["occurred_at"] = when.isoformat()
    return Operation("task_event", "POST", "/v1/tasks/events", body)


def me() -> Operation:
    return Operation("me", "GET", "/v1/me")
