"""Alerts: list and read (viewer or admin), acknowledge and resolve (admin, audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from spendwarden.alerts import actions
from spendwarden.alerts.lifecycle import alert_public
from spendwarden.alerts.outbox import delivery_public
from spendwarden.api.deps import AdminDep, LedgerDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Reason, Strict
from spendwarden.db import queries as q
from spendwarden.db import queries_signals as qs

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422)
}


class AlertAction(Strict):
    reason: Reason | None = None


@router.get("", responses=ERRORS)
def list_alerts(
    viewer: ViewerDep,
    ledger: LedgerDep,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="`next` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Newest first; pass ``next`` back as ``cursor`` for the following page."""
    filters = {"status": status, "severity": severity, "agent_id": agent_id, "rule": rule}
    with ledger.store.read() as conn:
        rows = q.list_alerts(conn, filters=filters, before=cursor, limit=limit)
    items = [alert_public(r) for r in rows]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.get("/{alert_id}", responses=ERRORS)
def get_alert(alert_id: str, viewer: ViewerDep, ledger: LedgerDep) -> dict[str, Any]:
    """One alert with its figures and where it was delivered."""
    row = actions.find_alert(ledger.core, alert_id)
    with ledger.store.read() as conn:
        deliveries = qs.list_deliveries(conn, alert_id=alert_id, limit=100)
    return {**alert_public(row), "deliveries": [delivery_public(d) for d in deliveries]}


@router.post("/{alert_id}/ack", responses=ERRORS)
def acknowledge(
    alert_id: str, admin: AdminDep, ledger: LedgerDep, body: AlertAction | None = None
) -> dict[str, Any]:
    """open → acknowledged. The condition keeps deduplicating into this alert until it resolves."""
    return actions.acknowledge(ledger.core, alert_id, admin.actor, body.reason if body else None)


@router.post("/{alert_id}/resolve", responses=ERRORS)
def resolve(
    alert_id: str, admin: AdminDep, ledger: LedgerDep, body: AlertAction | None = None
) -> dict[str, Any]:
    """→ resolved. Channels that were paged about it (PagerDuty included) hear it resolved."""
    return actions.resolve(ledger.core, alert_id, admin.actor, body.reason if body else None)
