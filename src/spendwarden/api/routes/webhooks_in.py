"""Inbound rails: Stripe (signed), x402 and L402 (bearer token), and their agent mappings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from spendwarden.api.deps import AdminDep, RuntimeDep, ViewerDep
from spendwarden.api.routes.ingest import IngestDep, allowed_source
from spendwarden.api.schemas import ErrorResponse, Slug, Strict
from spendwarden.errors import Forbidden
from spendwarden.ingest import mappings
from spendwarden.ingest.receivers import receive_rail, receive_stripe

router = APIRouter(tags=["webhooks in"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422)
}
Label = Annotated[str, Field(max_length=200)]


class StripeMapBody(Strict):
    agent_id: Slug
    label: Label | None = None


class AddressBody(Strict):
    address: Annotated[str, Field(min_length=1, max_length=128)]
    agent_id: Slug
    rail: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")] = "x402"
    label: Label | None = None


@router.post("/v1/webhooks/stripe", responses=ERRORS)
async def stripe_webhook(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Verify the ``Stripe-Signature`` header, then record the event's spend exactly once."""
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    outcome = await run_in_threadpool(receive_stripe, runtime.ledger.core, payload, signature)
    return outcome.body()


@router.post("/v1/webhooks/x402", responses=ERRORS)
async def x402_webhook(request: Request, principal: IngestDep, runtime: RuntimeDep) -> dict[str, Any]:
    """One x402 settlement record (or an array of them), keyed by network + transaction hash."""
    return await _rail(request, principal, runtime, "x402")


@router.post("/v1/webhooks/l402", responses=ERRORS)
async def l402_webhook(request: Request, principal: IngestDep, runtime: RuntimeDep) -> dict[str, Any]:
    """One paid L402 invoice (or an array), keyed by payment hash, converted at the BTC/USD rate."""
    return await _rail(request, principal, runtime, "l402")


async def _rail(request: Request, principal: Any, runtime: Any, rail: str) -> dict[str, Any]:
    source = allowed_source(principal)
    if source is not None and source != rail:
        raise Forbidden(f"This ingest token may only write source {source!r}.", source=rail)
    payload = await request.body()
    body, _single = await run_in_threadpool(receive_rail, runtime.ledger.core, rail, payload)
    return body


@router.get("/v1/ingest/stripe-agents", responses=ERRORS)
def list_stripe_agents(viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Stripe customer and cardholder ids mapped to agents (used when metadata names none)."""
    return {"mappings": mappings.list_stripe_agents(runtime.ledger.core)}


@router.put("/v1/ingest/stripe-agents/{stripe_id}", responses=ERRORS)
def put_stripe_agent(
    stripe_id: str, body: StripeMapBody, admin: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    core = runtime.ledger.core
    return {
        "mapping": mappings.put_stripe_agent(core, stripe_id, body.agent_id, body.label, actor=admin.actor)
    }


@router.delete("/v1/ingest/stripe-agents/{stripe_id}", status_code=204, responses=ERRORS)
def delete_stripe_agent(stripe_id: str, admin: AdminDep, runtime: RuntimeDep) -> Response:
    mappings.delete_stripe_agent(runtime.ledger.core, stripe_id, actor=admin.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/ingest/addresses", responses=ERRORS)
def list_addresses(
    viewer: ViewerDep, runtime: RuntimeDep, agent_id: Annotated[str | None, Query()] = None
) -> Any:
    """Payment addresses (x402 payer/payTo, L402 payer) that belong to agents."""
    return {"addresses": mappings.list_addresses(runtime.ledger.core, agent_id)}


@router.post("/v1/ingest/addresses", status_code=201, responses=ERRORS)
def put_address(body: AddressBody, admin: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    core = runtime.ledger.core
    return {
        "address": mappings.put_address(
            core, body.address, body.agent_id, body.rail, body.label, actor=admin.actor
        )
    }


@router.delete("/v1/ingest/addresses/{address}", status_code=204, responses=ERRORS)
def delete_address(address: str, admin: AdminDep, runtime: RuntimeDep) -> Response:
    mappings.delete_address(runtime.ledger.core, address, actor=admin.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
