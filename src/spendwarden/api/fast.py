"""``POST /v1/authorize`` without FastAPI's per-request machinery, for the common case.

An authorization sits in front of every agent call, and profiling showed FastAPI's route
handler (dependency solving, body reading and validation, response plumbing) costing
more CPU than the ledger's whole authorization. This route is matched first and handles a
well-formed request with the very same pieces the FastAPI endpoint uses: the body model
(``AuthorizeBody``), ``resolve_principal`` (authentication and rate limit),
``ensure_agent``, ``authorize_request`` and ``Ledger.authorize``; domain errors raise the
same exceptions, which the app's handlers turn into the same error bodies. A key looked up
on an earlier request is remembered by its hash and checked again inside the authorization
itself (PostgreSQL: in ``spendwarden_authorize``, on the event loop's own connection;
SQLite: in the lean path's read on the writer), so a revocation still refuses the very next
request while the common request costs no separate lookup.

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
from spendwarden.api.deps import admit, bearer_token, ensure_agent, resolve_principal
from spendwarden.api.responses import FastJSON
from spendwarden.api.schemas import AuthorizeBody
from spendwarden.db.pg_authorize import AsyncConnections
from spendwarden.ledger.admin import Principal
from spendwarden.ledger.approval import KeyRefused
from spendwarden.ledger.auth import authenticate_agent_async
from spendwarden.ledger.keys import hash_secret
from spendwarden.ledger.on_loop import decide_on_loop, run_db
from spendwarden.ledger.service import Ledger

PATH = "/v1/authorize"
# Agent keys remembered by hash, for the one-round-trip authorization: ~300 bytes each, so a
# fleet of 400,000 agents stays known in full (~120 MB) instead of being looked up again.
KNOWN_KEYS = 1_000_000
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
        ledger: Ledger = request.app.state.runtime.ledger
        key = request.headers.get("idempotency-key") or body.idempotency_key
        connections: AsyncConnections | None = request.app.state.pg_connections
        result, tried = None, False
        if key is None and connections is not None:
            result, tried = await _in_database(request, ledger, connections, body), True
        elif key is None and not ledger.store.is_postgres:
            result, tried = await _on_sqlite_writer(request, ledger, body), True

        def authorize() -> dict[str, Any]:
            """Who is asking, then the authorization: one hop to the thread pool on
            PostgreSQL, not one for each (a hop costs more than a key lookup); the fast
            path already tried is not tried again."""
            agent_id = ensure_agent(resolve_principal(request, ledger)).agent_id
            assert agent_id is not None
            return ledger.authorize(agent_id, authorize_request(body), key, try_fast_path=not tried)

        if result is None:
            result = await run_db(ledger, authorize)
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


async def _in_database(
    request: Request, ledger: Ledger, connections: AsyncConnections, body: AuthorizeBody
) -> dict[str, Any] | None:
    """PostgreSQL: ``spendwarden_authorize`` awaited on the event loop's own connections
    (with the calls of other requests awaited at the same time: ``db/pg_batch.py``), no
    thread. A key looked up on an earlier request goes into the call itself, which decides
    nothing unless it is still the agent's and not revoked (one round trip); a new key is
    looked up first (two). None: the blocking path answers (a token other than an agent
    key, or what the database function does not decide)."""
    token = bearer_token(request)
    if token is None:
        return None
    digest = hash_secret(token)
    known: dict[str, Principal] = request.app.state.known_keys
    principal = known.get(digest)
    if principal is None:
        async with connections.connection() as conn:
            principal = await authenticate_agent_async(ledger.core, conn, token, digest)
        if principal is None:
            return None
    agent_id = _admitted_agent(request, known, digest, principal)
    try:
        return await decide_on_loop(ledger, connections, agent_id, authorize_request(body), digest)
    except KeyRefused:
        known.pop(digest, None)
        async with connections.connection() as conn:
            await authenticate_agent_async(ledger.core, conn, token, digest)  # raises what the key earned
        return None  # valid again (a race with a change): the blocking path decides


async def _on_sqlite_writer(request: Request, ledger: Ledger, body: AuthorizeBody) -> dict[str, Any] | None:
    """SQLite: the lean authorization (``authorize_sqlite``) on the writer, decided with
    the event loop's other authorizations of this iteration in one transaction
    (``db/loop_commit.py``), answered once it is committed. A key looked up on an earlier
    request is checked in the authorization's own read, not looked up again on a reader
    connection whose page cache the last commit emptied; a new key is looked up first.
    None: the blocking path answers (a token other than an agent key, what the lean path
    does not decide, or the writer busy in another thread)."""
    token = bearer_token(request)
    if token is None:
        return None
    digest = hash_secret(token)
    known: dict[str, Principal] = request.app.state.known_keys
    principal = known.get(digest)
    if principal is None:
        principal = await run_db(ledger, lambda: ledger.authenticate(token))  # raises what a bad key earns
    if principal.kind != "agent":
        return None
    agent_id = _admitted_agent(request, known, digest, principal)
    try:
        return await decide_on_loop(ledger, None, agent_id, authorize_request(body), digest)
    except KeyRefused:
        known.pop(digest, None)
        await run_db(ledger, lambda: ledger.authenticate(token))  # raises what the key earned
        return None  # valid again (a race with a change): the blocking path decides


def _admitted_agent(request: Request, known: dict[str, Principal], digest: str, principal: Principal) -> str:
    """Remember the agent key's principal by hash (bounded), admit it on the request (rate
    limit charged once) and answer its agent."""
    if digest not in known:
        if len(known) >= KNOWN_KEYS:
            known.clear()
        known[digest] = principal
    agent_id = ensure_agent(admit(request, principal)).agent_id
    assert agent_id is not None
    return agent_id


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
