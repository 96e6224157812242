"""A pure-ASGI body-size limit: refuses oversized bodies with 413 before they are read, and
a path or query holding NUL with 422 before it is routed."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spendwarden.api.errors import error_body
from spendwarden.text import NUL, REASON


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, overrides: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.overrides = overrides

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if NUL in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse_nul(send)  # no store can hold it (``text.py``): refused before routing
            return
        limit = self.limit_for(scope["path"])
        length = _content_length(scope)
        if length is not None and length > limit:
            await _too_large(send, limit)
            return
        seen = 0
        refused = started = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise _TooLarge()
            return message

        async def answer(message: Message) -> None:
            # A body without Content-Length (chunked) is cut off here as it streams in; the
            # route's body reader turns that into its own 400 ("error parsing the body"),
            # which is replaced by the same 413 a declared length gets.
            nonlocal started
            if refused and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, answer)
        except _TooLarge:
            pass
        if refused and not started:
            await _too_large(send, limit)


class _TooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = error_body("payload_too_large", f"The body is larger than {limit} bytes.", {"limit": limit})
    await _answer(send, 413, body)


async def _refuse_nul(send: Send) -> None:
    await _answer(send, 422, error_body("invalid_request", f"The path and query {REASON}."))


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
