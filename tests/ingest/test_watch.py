"""spendwarden watch against a real WebSocket server that drops the connection mid-stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets

from spendwarden.ingest.watch import Watcher, db_cursor_store, db_writer
from spendwarden.runtime import Runtime
from tests.factories import make_agent

EVENTS = [
    {"id": i, "agent_id": "gate-bot", "amount_usd": "0.01", "vendor": "api.example"} for i in range(1, 101)
]


async def run_gate(runtime: Runtime, drop_after: list[int]) -> tuple[Any, list[str]]:
    """A gate that honours ?since= and hangs up after the given message counts."""
    requests: list[str] = []

    async def handler(ws: Any) -> None:
        path = ws.request.path
        requests.append(path)
        since = int(parse_qs(urlsplit(path).query).get("since", ["0"])[0])
        limit = drop_after.pop(0) if drop_after else len(EVENTS)
        # resend the last two already-seen events too: the sidecar must drop them
        for sent, event in enumerate(e for e in EVENTS if e["id"] > since - 2):
            if sent == limit:
                return  # connection closes mid-stream
            await ws.send(json.dumps(event))
        await ws.wait_closed()

    server = await websockets.serve(handler, "127.0.0.1", 0)
    return server, requests


async def test_watch_resumes_after_drops_exactly_once(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "gate-bot")
    server, requests = await run_gate(runtime, drop_after=[37, 25])
    port = server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}/events"
    core = runtime.ledger.core
    load, save = db_cursor_store(core, url)
    watcher = Watcher(url, db_writer(core, "canonical", url), batch_size=10, flush_seconds=0.05,
                      load_cursor=load, save_cursor=save)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    for _ in range(400):
        await asyncio.sleep(0.05)
        if watcher.stats.accepted >= 100:
            break
    stop.set()
    stats = await task
    server.close()
    await server.wait_closed()
    assert stats.accepted == 100 and stats.rejected == 0
    assert stats.duplicates >= 2
    assert stats.connections >= 3
    assert any("since=" in r for r in requests[1:])
    assert runtime.ledger.view("gate-bot")["spend"]["daily"] == "1.000000"
    assert load() == "100"
    assert runtime.ledger.verify()["ok"]
