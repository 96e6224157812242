"""Outbound webhook subscriptions (``/v1/webhooks``), their delivery log and redelivery."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import Field

from spendwarden.api.deps import AdminDep, RuntimeDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Strict
from spendwarden.ingest import subscriptions as subs
from spendwarden.ingest.plugin import sender_of

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks out"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422)
}
Url = Annotated[str, Field(min_length=8, max_length=2000)]
Events = Annotated[list[Annotated[str, Field(max_length=60)]], Field(min_length=1, max_length=20)]


class SubscriptionCreate(Strict):
    url: Url
    events: Events | None = Field(None, description="Default: transaction.recorded, alert.*, agent.*")
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = Field(
        None, description="Signing secret; generated (and shown once) when absent."
    )
    enabled: bool = True
    description: Annotated[str, Field(max_length=500)] | None = None


class SubscriptionUpdate(Strict):
    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create(body: SubscriptionCreate, admin: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Subscribe a URL; the answer carries the signing secret (shown once)."""
    sub, secret = subs.create(
        runtime.ledger.core,
        url=body.url,
        events=body.events,
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
        actor=admin.actor,
    )
    sender_of(runtime).invalidate()
    return {"webhook": sub, "secret": secret}


@router.get("", responses=ERRORS)
def list_all(viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"webhooks": subs.list_all(runtime.ledger.core)}


@router.get("/{webhook_id}", responses=ERRORS)
def get(webhook_id: str, viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"webhook": subs.get(runtime.ledger.core, webhook_id)}


@router.patch("/{webhook_id}", responses=ERRORS)
def update(webhook_id: str, body: SubscriptionUpdate, admin: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    changed = subs.update(
        runtime.ledger.core, webhook_id, body.model_dump(exclude_unset=True), actor=admin.actor
    )
    sender_of(runtime).invalidate()
    return {"webhook": changed}


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete(webhook_id: str, admin: AdminDep, runtime: RuntimeDep) -> Response:
    subs.delete(runtime.ledger.core, webhook_id, actor=admin.actor)
    sender_of(runtime).invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", responses=ERRORS)
def deliveries(
    webhook_id: str,
    viewer: ViewerDep,
    runtime: RuntimeDep,
    status_: Annotated[
        Literal["pending", "sending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Newest first; pass ``next`` back as ``cursor``."""
    rows = subs.deliveries(runtime.ledger.core, webhook_id, status=status_, before=cursor, limit=limit)
    return {"deliveries": rows, "next": rows[-1]["id"] if len(rows) == limit else None}


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", responses=ERRORS)
def redeliver(webhook_id: str, delivery_id: str, admin: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Queue a delivery again now, with a fresh attempt budget."""
    delivery = subs.redeliver(runtime.ledger.core, webhook_id, delivery_id, actor=admin.actor)
    sender_of(runtime).wake()
    return {"delivery": delivery}
