"""Notification channels (admin): Slack, Telegram, PagerDuty, signed webhooks, and their delivery logs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import Field

from spendwarden.alerts import channels as ch
from spendwarden.alerts.outbox import delivery_public
from spendwarden.api.deps import AdminDep, LedgerDep
from spendwarden.api.schemas import ErrorResponse, Short, Strict
from spendwarden.db import queries_signals as qs

router = APIRouter(prefix="/v1/channels", tags=["channels"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}
Config = Annotated[dict[str, Any], Field(max_length=20)]


class ChannelCreate(Strict):
    type: ch.ChannelType
    name: Short | None = None
    config: Config = Field(
        description="slack: {url}; telegram: {bot_token, chat_id, api_url?}; pagerduty: {routing_key, "
        "api_url?}; webhook: {url, secret?} (a secret is generated when absent and shown once)."
    )
    min_severity: ch.Severity = "warning"
    enabled: bool = True


class ChannelUpdate(Strict):
    name: Short | None = None
    config: Config | None = Field(None, description="Merged into the current config.")
    min_severity: ch.Severity | None = None
    enabled: bool | None = None


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create_channel(body: ChannelCreate, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    """Create a channel; the answer shows its secrets this once."""
    return ch.create_channel(ledger.core, body.model_dump(), admin.actor)


@router.get("", responses=ERRORS)
def list_channels(admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    with ledger.store.read() as conn:
        rows = qs.list_channels(conn)
    return {"items": [ch.channel_public(r) for r in rows]}


@router.get("/{channel_id}", responses=ERRORS)
def get_channel(channel_id: str, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    return ch.channel_public(ch.get_channel(ledger.core, channel_id))


@router.patch("/{channel_id}", responses=ERRORS)
def update_channel(
    channel_id: str, body: ChannelUpdate, admin: AdminDep, ledger: LedgerDep
) -> dict[str, Any]:
    return ch.update_channel(ledger.core, channel_id, body.model_dump(exclude_none=True), admin.actor)


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_channel(channel_id: str, admin: AdminDep, ledger: LedgerDep) -> Response:
    """Delete the channel; undelivered notifications to it are marked failed, its log is kept."""
    ch.delete_channel(ledger.core, channel_id, admin.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{channel_id}/deliveries", responses=ERRORS)
def deliveries(
    channel_id: str,
    admin: AdminDep,
    ledger: LedgerDep,
    status: Literal["pending", "sending", "delivered", "failed"] | None = None,
    cursor: Annotated[str | None, Query(max_length=64, description="`next` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The delivery log, newest first: attempts, last status code and error, delivered time."""
    ch.get_channel(ledger.core, channel_id)
    with ledger.store.read() as conn:
        rows = qs.list_deliveries(conn, channel_id=channel_id, status=status, before=cursor, limit=limit)
    items = [delivery_public(r) for r in rows]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}
