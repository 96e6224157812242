"""Admin reads of the ledger: transactions (filter, cursor pages), verify, audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from spendwarden.api.deps import LedgerDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Moment
from spendwarden.clock import iso, to_us
from spendwarden.db import queries as q
from spendwarden.errors import NotFound
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.types import loads

router = APIRouter(prefix="/v1", tags=["ledger"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}


@router.get("/transactions", responses=ERRORS)
def list_transactions(
    viewer: ViewerDep,
    ledger: LedgerDep,
    agent_id: str | None = None,
    rail: str | None = None,
    vendor: str | None = None,
    tool: str | None = None,
    task_id: str | None = None,
    model: str | None = None,
    status: str | None = None,
    user_id: str | None = None,
    kind: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    cursor: Annotated[str | None, Query(max_length=64, description="`next` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Newest first, filtered; pass ``next`` back as ``cursor`` for the following page."""
    filters = {
        "agent_id": agent_id,
        "rail": rail,
        "vendor": vendor,
        "tool": tool,
        "task_id": task_id,
        "model": model,
        "status": status,
        "user_id": user_id,
        "kind": kind,
    }
    with ledger.store.read() as conn:
        rows = q.list_transactions(
            conn,
            filters=filters,
            since=to_us(since) if since else None,
            until=to_us(until) if until else None,
            before=cursor,
            limit=limit,
        )
    items = [transaction_public(r) for r in rows]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.get("/transactions/{transaction_id}", responses=ERRORS)
def get_transaction(transaction_id: str, viewer: ViewerDep, ledger: LedgerDep) -> dict[str, Any]:
    with ledger.store.read() as conn:
        row = q.get_transaction(conn, transaction_id)
    if row is None:
        raise NotFound("No such transaction.", transaction_id=transaction_id)
    return transaction_public(row)


@router.get("/ledger/verify", responses=ERRORS)
def verify(viewer: ViewerDep, ledger: LedgerDep, agent_id: str | None = None) -> dict[str, Any]:
    """Recompute the hash chains; every edited, inserted or deleted row is named by id."""
    return ledger.verify(agent_id)


@router.get("/audit", responses=ERRORS)
def audit(
    viewer: ViewerDep,
    ledger: LedgerDep,
    target_id: str | None = None,
    action: str | None = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="`next` from the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Admin actions, newest first: actor, time, reason, before and after."""
    with ledger.store.read() as conn:
        rows = q.list_audit(conn, target_id=target_id, action=action, before=cursor, limit=limit)
    items = [
        {
            "id": r["id"],
            "seq": r["seq"],
            "actor": r["actor"],
            "action": r["action"],
            "target_type": r["target_type"],
            "target_id": r["target_id"],
            "reason": r["reason"],
            "before": loads(r["before"]),
            "after": loads(r["after"]),
            "at": iso(r["at"]),
            "hash": r["hash"],
        }
        for r in rows
    ]
    return {"items": items, "next": items[-1]["seq"] if len(items) == limit else None}
