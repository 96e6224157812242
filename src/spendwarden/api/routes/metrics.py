"""``GET /metrics``: Prometheus exposition of this app's registry.

Needs the admin or a viewer token unless ``metrics_require_token`` is false (the
labels name agents, so they are not public by default)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spendwarden.api.deps import RuntimeDep, ensure_viewer, resolve_principal

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    if runtime.settings.metrics_require_token:
        ensure_viewer(resolve_principal(request, runtime.ledger))
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
