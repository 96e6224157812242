"""Dependencies: the runtime, and who is calling (``AdminDep``, ``ViewerDep``, ``AgentDep``).

Dependencies that do no I/O are ``async def``: FastAPI runs a sync dependency in the
thread pool, and each such hop costs more than an authorization's own SQL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from spendwarden.errors import Forbidden, Unauthenticated
from spendwarden.ledger.admin import Principal
from spendwarden.ledger.on_loop import run_db
from spendwarden.ledger.service import Ledger
from spendwarden.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.runtime.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
        return token.strip()
    cookie_auth = getattr(request.app.state, "cookie_auth", None)
    if cookie_auth is not None:
        from_cookie: str | None = cookie_auth(request)
        return from_cookie
    return None


async def get_principal(request: Request, ledger: LedgerDep) -> Principal:
    return await run_db(ledger, lambda: resolve_principal(request, ledger))


def resolve_principal(request: Request, ledger: Ledger) -> Principal:
    """Who is calling (cached on the request), rate limit applied."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = admit(request, ledger.authenticate(bearer_token(request)))
    return principal


def admit(request: Request, principal: Principal) -> Principal:
    """Remember who is calling on the request and apply their rate limit (once)."""
    request.state.principal = principal
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(principal.token_id or principal.actor)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def ensure_admin(principal: Principal) -> Principal:
    if principal.kind != "admin":
        raise Forbidden("This endpoint needs the admin token.")
    return principal


def ensure_viewer(principal: Principal) -> Principal:
    """Read-only admin endpoints: the admin token or a viewer token."""
    if principal.kind not in ("admin", "viewer"):
        raise Forbidden("This endpoint needs the admin or a viewer token.")
    return principal


def ensure_agent(principal: Principal) -> Principal:
    if principal.kind != "agent" or principal.agent_id is None:
        raise Forbidden("This endpoint needs an agent API key.")
    return principal


async def require_admin(principal: PrincipalDep) -> Principal:
    return ensure_admin(principal)


async def require_viewer(principal: PrincipalDep) -> Principal:
    return ensure_viewer(principal)


async def require_agent(principal: PrincipalDep) -> Principal:
    return ensure_agent(principal)


AdminDep = Annotated[Principal, Depends(require_admin)]
ViewerDep = Annotated[Principal, Depends(require_viewer)]
AgentDep = Annotated[Principal, Depends(require_agent)]


async def idempotency_header(
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> str | None:
    return idempotency_key


IdempotencyHeader = Annotated[str | None, Depends(idempotency_header)]
