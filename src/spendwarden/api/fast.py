"""``POST /v1/authorize`` without FastAPI's per-request machinery, for the common case.

An authorization sits in front of every agent call, and profiling showed FastAPI's route
handler (dependency solving, body reading and validation, response plumbing) costing
more CPU than the ledger's whole authorization. This route is matched first and handles a
well-formed request with the very same pieces the FastAPI endpoint uses: the body model
(``AuthorizeBody``), ``resolve_principal`` (authentication and rate limit),
``ensure_agent``, ``authorize_request`` and ``Ledger.authorize``; domain errors raise the
same exceptions, which the app's handlers turn into the same error bodies.

Anything out of the ordinary — a body that is not a JSON object, a field that fails
validation, a content type other than ``application/json`` (or none), an over-long
``Idempotency-Key`` — is handed, with its body, to the regular FastAPI route, so every
error answer (and its order: invalid JSON before authentication, authentication before
field errors) stays exactly FastAPI's; ``tests/api/test_fast_authorize.py`` holds both
routes to the same answers.
The FastAPI route also keeps documenting the endpoint in the OpenAPI schema.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from spendwarden.api.convert import authorize_request
from spendwarden.api.deps import ensure_agent, resolve_principal, run_db
from spendwarden.api.responses import FastJSON
from spendwarden.api.schemas import AuthorizeBody

PATH = "/v1/authorize"
MAX_IDEMPOTENCY_KEY = 200  # as the FastAPI route's header declares


class FastAuthorize:
    """The ASGI app of the fast route; ``fallback`` is the FastAPI route's handler."""

    def __init__(self, fallback: APIRoute) -> None:
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.fallback  # as FastAPI sets it (metrics label requests by route)
        request = Request(scope, receive)
        try:
            raw = await request.body()
        except HTTPException:
            raise
        except Exception as exc:  # a client gone mid-body, say: FastAPI's answer
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
        body = self._parse(request, raw)
        if body is None:
            await self.fallback.handle(scope, _replay(raw), send)
            return
        ledger = request.app.state.runtime.ledger
        principal = ensure_agent(await run_db(ledger, lambda: resolve_principal(request, ledger)))
        agent_id = principal.agent_id
        assert agent_id is not None
        req = authorize_request(body)
        key = request.headers.get("idempotency-key") or body.idempotency_key
        result = await run_db(ledger, lambda: ledger.authorize(agent_id, req, key))
        await FastJSON(result)(scope, receive, send)

    @staticmethod
    def _parse(request: Request, raw: bytes) -> AuthorizeBody | None:
        """The body, or None when FastAPI should answer (and word the error) itself."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return None
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            return None
        try:  # the standard library's parser, as FastAPI's (orjson reads huge integers as floats)
            data = json.loads(raw)
        except Exception:  # invalid, or nested past the recursion limit: FastAPI words it
            return None
        if not isinstance(data, dict):
            return None
        try:
            return AuthorizeBody.model_validate(data)
        except Exception:  # field errors (amounts raise the domain's own error), deep nesting
            return None


def _replay(raw: bytes) -> Receive:
    """A receive channel that yields the already-read body once, then waits as Starlette's
    does for a disconnect that never comes (the request is answered first)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def install_fast_authorize(app: FastAPI, fallback: APIRoute) -> None:
    """Put the fast route in front of every other route (it is not in the schema)."""
    route: Any = Route(PATH, FastAuthorize(fallback), methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, route)
