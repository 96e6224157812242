"""Dashboard pages and sign-in: ``/`` serves the app shell, ``/web/session`` signs in and out."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Template
from pydantic import BaseModel, Field

from spendwarden import __version__
from spendwarden.api.deps import LedgerDep, PrincipalDep, RuntimeDep
from spendwarden.clock import to_us
from spendwarden.errors import Forbidden
from spendwarden.web.auth import CSRF_HEADER, SESSION_COOKIE, cross_site, session_cookie
from spendwarden.web.sessions import (
    DASHBOARD_ROLES,
    SESSION_TTL_US,
    create_session,
    csrf_matches,
    csrf_token,
    end_session,
)

router = APIRouter(tags=["dashboard"])

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SignIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=512, description="Admin or viewer token.")]


@lru_cache(maxsize=1)
def _shell() -> str:
    source = resources.files("spendwarden.web").joinpath("templates/index.html").read_text("utf-8")
    html: str = Template(source, autoescape=True).render(version=__version__)
    return html


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    """The single-page app; it asks ``/web/session`` whether to show sign-in or the fleet."""
    return HTMLResponse(_shell(), headers=SECURITY_HEADERS)


@router.post("/web/session")
def sign_in(body: SignIn, request: Request, response: Response, runtime: RuntimeDep) -> dict[str, Any]:
    """Trade an admin or viewer token for a session cookie (HttpOnly, SameSite=Strict)."""
    if cross_site(request.headers):
        raise Forbidden("Sign in from the dashboard's own origin.")
    principal = runtime.ledger.authenticate(body.token)
    if principal.kind not in DASHBOARD_ROLES:
        raise Forbidden("The dashboard needs the admin token or a viewer token.")
    now_us = to_us(runtime.clock.now())
    with runtime.store.write() as conn:
        session_id, _ = create_session(conn, principal, body.token, now_us)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_TTL_US // 1_000_000,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return _session_public(principal.kind, principal.actor, session_id)


@router.get("/web/session")
def whoami(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Who is signed in, and the CSRF token to send as ``X-CSRF-Token`` on every change."""
    if principal.kind not in DASHBOARD_ROLES:
        raise Forbidden("The dashboard needs the admin token or a viewer token.")
    session_id: str | None = getattr(request.state, "session_id", None)
    return _session_public(principal.kind, principal.actor, session_id)


@router.delete("/web/session")
def sign_out(request: Request, response: Response, ledger: LedgerDep) -> dict[str, Any]:
    """End the session on the server and clear the cookie (needs the CSRF header)."""
    session_id = session_cookie(request.headers)
    if session_id is not None:
        if cross_site(request.headers) or not csrf_matches(session_id, request.headers.get(CSRF_HEADER)):
            raise Forbidden("Missing or wrong X-CSRF-Token header.", header="X-CSRF-Token")
        with ledger.store.write() as conn:
            end_session(conn, session_id, to_us(ledger.clock.now()))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return {"signed_out": True}


def _session_public(role: str, actor: str, session_id: str | None) -> dict[str, Any]:
    return {
        "role": role,
        "actor": actor,
        "read_only": role != "admin",
        "csrf_token": csrf_token(session_id) if session_id else None,
    }
