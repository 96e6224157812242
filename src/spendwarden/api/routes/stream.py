"""``GET /v1/stream``: live ``transaction``, ``alert`` and ``agent`` events as Server-Sent Events.

Each subscriber gets its own bounded queue on the hub (``live.Hub``). The stream ends when
the client goes away or the server begins shutting down (uvicorn waits for open responses
before it stops, so an endless stream must notice the shutdown itself); a comment line
every ``heartbeat`` seconds keeps proxies from closing an idle connection.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from spendwarden.api.deps import RuntimeDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse
from spendwarden.live import Hub, LiveEvent

router = APIRouter(prefix="/v1", tags=["live"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 422)}
KINDS = ("transaction", "alert", "agent")
POLL_SECONDS = 0.5


def server_exiting() -> bool:
    """True once uvicorn (serving in the main thread) has been asked to stop.

    uvicorn installs its ``handle_exit`` as the SIGTERM/SIGINT handler; reading the flag
    on its server is the only way an app can learn of the shutdown before its open
    responses end."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        server = getattr(signal.getsignal(sig), "__self__", None)
        if getattr(server, "should_exit", False):
            return True
    return False


def sse_frame(event: LiveEvent) -> bytes:
    data = orjson.dumps({"name": event.name, "data": event.payload})
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.kind.encode(), data)


def wanted(event: LiveEvent, agent_id: str | None, kinds: set[str]) -> bool:
    if event.kind not in kinds:
        return False
    return agent_id is None or event.payload.get("agent_id") == agent_id


async def event_stream(
    request: Request, hub: Hub, agent_id: str | None, kinds: set[str], heartbeat: float
) -> AsyncIterator[bytes]:
    queue = hub.subscribe()
    last = time.monotonic()
    try:
        yield b"retry: 3000\n: connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=POLL_SECONDS)
            except TimeoutError:
                if server_exiting() or await request.is_disconnected():
                    return
                if time.monotonic() - last >= heartbeat:
                    last = time.monotonic()
                    yield b": heartbeat\n\n"
                continue
            if wanted(event, agent_id, kinds):
                last = time.monotonic()
                yield sse_frame(event)
    finally:
        hub.unsubscribe(queue)


@router.get(
    "/stream",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
async def stream(
    request: Request,
    viewer: ViewerDep,
    runtime: RuntimeDep,
    agent_id: Annotated[str | None, Query(max_length=64, description="Only this agent's events.")] = None,
    kinds: Annotated[
        str | None, Query(pattern=r"^(transaction|alert|agent)(,(transaction|alert|agent))*$")
    ] = None,
    heartbeat: Annotated[float, Query(ge=0.5, le=300, description="Seconds between heartbeats.")] = 15.0,
) -> StreamingResponse:
    """Server-Sent Events: ``event:`` is the kind, ``data:`` is ``{"name", "data"}``, ``id:`` counts up."""
    selected = set(kinds.split(",")) if kinds else set(KINDS)
    return StreamingResponse(
        event_stream(request, runtime.hub, agent_id, selected, heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
