"""Custom LLM prices (``/v1/prices``): override genai-prices per model, audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import Field

from spendwarden.api.deps import AdminDep, RuntimeDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Strict
from spendwarden.ingest import prices as price_ops
from spendwarden.ingest.plugin import catalog_of

router = APIRouter(prefix="/v1/prices", tags=["prices"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}
PerMTok = Annotated[
    str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$", description="USD per million tokens.")
]


class PriceBody(Strict):
    input_per_mtok: PerMTok
    output_per_mtok: PerMTok
    cache_read_per_mtok: PerMTok | None = None
    cache_write_per_mtok: PerMTok | None = None
    version: Annotated[
        str, Field(min_length=1, max_length=40, description="Label stored on priced rows.")
    ] = "custom"


class PriceCreate(PriceBody):
    provider: Annotated[str, Field(min_length=1, max_length=64, description="'*' = any provider.")] = "*"
    model: Annotated[str, Field(min_length=1, max_length=200)]


def _spec(body: PriceBody) -> price_ops.PriceSpec:
    return price_ops.PriceSpec(
        input=body.input_per_mtok,
        output=body.output_per_mtok,
        cache_read=body.cache_read_per_mtok,
        cache_write=body.cache_write_per_mtok,
        version=body.version,
    )


@router.get("", responses=ERRORS)
def list_prices(viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Custom prices; models not listed are priced by genai-prices, then the fallback."""
    return {"prices": price_ops.list_prices(runtime.store)}


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create_price(body: PriceCreate, admin: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Set a custom price (replaces an existing one for the same provider and model)."""
    return _put(runtime, body.provider, body.model, body, admin.actor)


@router.put("/{provider}/{model:path}", responses=ERRORS)
def put_price(
    provider: str, model: str, body: PriceBody, admin: AdminDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Set the price of ``model`` from ``provider`` (``*`` = any provider)."""
    return _put(runtime, provider, model, body, admin.actor)


@router.delete("/{provider}/{model:path}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_price(provider: str, model: str, admin: AdminDep, runtime: RuntimeDep) -> Response:
    price_ops.delete_price(runtime.ledger.core, provider, model, actor=admin.actor)
    catalog_of(runtime).invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _put(runtime: Any, provider: str, model: str, body: PriceBody, actor: str) -> dict[str, Any]:
    price = price_ops.put_price(runtime.ledger.core, provider, model, _spec(body), actor=actor)
    catalog_of(runtime).invalidate()
    return {"price": price}
