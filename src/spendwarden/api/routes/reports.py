"""Billing reports (viewer or admin token): CSV or JSON, reconciled with the ledger."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from spendwarden.analytics.billing import billing_report, to_csv
from spendwarden.api.deps import RuntimeDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Moment
from spendwarden.clock import to_us

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 422)}


@router.get("/billing", responses=ERRORS, response_model=None)
def billing(
    viewer: ViewerDep,
    runtime: RuntimeDep,
    from_: Annotated[Moment, Query(alias="from", description="Start (inclusive), ISO-8601.")],
    to: Annotated[Moment, Query(description="End (exclusive), ISO-8601.")],
    owner: Annotated[str | None, Query(max_length=200)] = None,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",
) -> dict[str, Any] | Response:
    """Line items per owner x agent x vendor x model x rail, each traceable to ledger rows."""
    report = billing_report(
        runtime.store, owner=owner, agent_id=agent_id, start_us=to_us(from_), end_us=to_us(to)
    )
    if format == "csv":
        name = f"billing-{owner or agent_id or 'all'}-{report['from'][:10]}-{report['to'][:10]}.csv"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)  # a header value: no quotes, newlines, non-latin-1
        return Response(
            to_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report
