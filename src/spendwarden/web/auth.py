"""Let the API accept the dashboard's session cookie, safely.

An ASGI middleware resolves the ``sw_session`` cookie to a principal before routing, but
only for requests without an ``Authorization`` header, only when the request is same-origin
(``Sec-Fetch-Site`` / ``Origin``), and for anything but GET/HEAD/OPTIONS only when the
``X-CSRF-Token`` header matches. When the cookie is refused, ``cookie_auth`` (the hook
``api.deps.bearer_token`` calls) raises the reason instead of a bare 401.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from spendwarden.clock import to_us
from spendwarden.errors import Forbidden, SpendwardenError, Unauthenticated
from spendwarden.runtime import Runtime
from spendwarden.web.sessions import csrf_matches, resolve_session

SESSION_COOKIE = "sw_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GUARDED_PREFIXES = ("/v1/", "/web/")


def session_cookie(headers: Headers) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # malformed cookie header: treat as absent
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def cross_site(headers: Headers) -> bool:
    """True when the browser tells us the request comes from another site or origin."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != headers.get("host", "")


def request_problem(method: str, headers: Headers, session_id: str) -> SpendwardenError | None:
    if cross_site(headers):
        return Forbidden("The session cookie is accepted from this dashboard's own origin only.")
    if method not in SAFE_METHODS and not csrf_matches(session_id, headers.get(CSRF_HEADER)):
        return Forbidden("Missing or wrong X-CSRF-Token header.", header="X-CSRF-Token")
    return None


class SessionAuth:
    """Pure ASGI middleware (streams such as ``/v1/stream`` pass through untouched)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GUARDED_PREFIXES):
            await self._attach(scope)
        await self.app(scope, receive, send)

    async def _attach(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        if "authorization" in headers:
            return
        session_id = session_cookie(headers)
        if session_id is None:
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        problem = request_problem(scope["method"], headers, session_id)
        if problem is not None:
            state["session_problem"] = problem
            return
        session = await anyio.to_thread.run_sync(self._resolve, session_id)
        if session is None:
            state["session_problem"] = Unauthenticated("Your session has ended; sign in again.")
            return
        state["principal"] = session.principal
        state["session_id"] = session_id

    def _resolve(self, session_id: str) -> Any:
        now_us = to_us(self.runtime.clock.now())
        with self.runtime.store.read() as conn:
            return resolve_session(conn, session_id, now_us, self.runtime.settings.admin_token)


def cookie_auth(request: Request) -> str | None:
    """The ``app.state.cookie_auth`` hook: reached only when no principal was attached."""
    problem: SpendwardenError | None = getattr(request.state, "session_problem", None)
    if problem is not None:
        raise problem
    return None
