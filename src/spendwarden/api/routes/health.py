"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from spendwarden import __version__
from spendwarden.api.deps import RuntimeDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    """200 when the database answers."""
    with runtime.store.read() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": runtime.store.dialect}
