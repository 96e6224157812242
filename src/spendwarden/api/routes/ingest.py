"""``POST /v1/ingest/events``: canonical spend events in bulk, one result per line."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from spendwarden.api.deps import PrincipalDep, RuntimeDep
from spendwarden.api.schemas import ErrorResponse
from spendwarden.errors import Forbidden
from spendwarden.ingest.canonical import ParseError, numbered_items
from spendwarden.ingest.common import EmptyBody, InvalidJSON
from spendwarden.ingest.pipeline import canonical_mapper, ingest_items
from spendwarden.ledger.admin import Principal

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 413, 422)}
SOURCE_LABEL = "source:"


def require_ingest(principal: PrincipalDep) -> Principal:
    """The admin token, or an ``ingest`` token (label ``source:<name>`` limits its source)."""
    if principal.kind not in ("admin", "ingest"):
        raise Forbidden("This endpoint needs the admin token or an ingest token.")
    return principal


IngestDep = Annotated[Principal, Depends(require_ingest)]


def allowed_source(principal: Principal) -> str | None:
    label = principal.label or ""
    if principal.kind == "ingest" and label.startswith(SOURCE_LABEL):
        return label[len(SOURCE_LABEL) :]
    return None


@router.post(
    "/events",
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest_events(request: Request, principal: IngestDep, runtime: RuntimeDep) -> dict[str, Any]:
    """A JSON array or NDJSON of canonical events. Answers 200 with each line's outcome:
    ``accepted`` (with the row id), ``duplicate`` (its ``(source, external_id)`` is already
    recorded) or ``rejected`` (with the error); a bad line never drops the good ones."""
    body = await request.body()
    ndjson = "ndjson" in request.headers.get("content-type", "")
    return await run_in_threadpool(_ingest, runtime, principal, body, ndjson)


def _ingest(runtime: Any, principal: Principal, body: bytes, ndjson: bool) -> dict[str, Any]:
    items = numbered_items(body, ndjson=ndjson)
    if not items:
        raise EmptyBody()
    first = items[0][1]
    if isinstance(first, ParseError) and first.line == 0:
        raise InvalidJSON(first.message)
    core = runtime.ledger.core
    mapper = canonical_mapper(
        core, now=core.clock.now(), default_source="ingest", allowed_source=allowed_source(principal)
    )
    return ingest_items(core, items, mapper, batch_size=runtime.settings.ingest_batch_size).body()
