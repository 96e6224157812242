"""The live stream against a real uvicorn server: transaction and alert events arrive as
SSE with ids, filters work, a client that leaves is forgotten, ``spendwarden tail`` reads
it, and a server asked to stop ends its open streams instead of hanging on them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from typer.testing import CliRunner

from spendwarden.api.app import create_app
from spendwarden.runtime import Runtime
from spendwarden.tail import parse_sse
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_agent, spend

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime, run_workers=False), host="127.0.0.1", port=port, log_level="error"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for e in parse_sse(response.iter_lines()):
        yield {"id": int(e["id"]), "kind": e["event"], **orjson.loads(e["data"])}


def subscribers(runtime: Runtime) -> int:
    return len(runtime.hub._subscribers)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_stream_carries_transactions_and_alerts(server: str, runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot", daily="1.00")
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{server}/v1/stream", headers=AUTH) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        wait_for(lambda: subscribers(runtime) == 1)
        runtime.ledger.record(spend("bot", "0.25", vendor="openai"))
        runtime.ledger.record(spend("bot", "2.00", vendor="openai"))
        seen: list[dict[str, Any]] = []
        for event in events(r):
            seen.append(event)
            if event["kind"] == "alert" and event["data"]["rule"] == "cap_breach":
                break
    kinds = [(e["kind"], e["name"]) for e in seen]
    assert kinds[0] == ("transaction", "transaction.recorded")
    assert seen[0]["data"]["amount_usd"] == "0.250000"
    assert kinds[-1] == ("alert", "alert.opened") and seen[-1]["data"]["agent_id"] == "bot"
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    wait_for(lambda: subscribers(runtime) == 0)


def test_stream_filters_by_agent_and_kind(server: str, runtime: Runtime) -> None:
    make_agent(runtime.ledger, "a")
    make_agent(runtime.ledger, "b")
    params = {"agent_id": "b", "kinds": "transaction"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{server}/v1/stream", headers=AUTH, params=params) as r,
    ):
        wait_for(lambda: subscribers(runtime) == 1)
        runtime.ledger.record(spend("a", "0.10"))
        runtime.ledger.record(spend("b", "0.20"))
        first = next(events(r))
    assert (first["kind"], first["data"]["agent_id"], first["data"]["amount_usd"]) == (
        "transaction",
        "b",
        "0.200000",
    )
    bad = httpx.get(f"{server}/v1/stream", headers=AUTH, params={"kinds": "gossip"}, timeout=5)
    assert bad.status_code == 422
    assert httpx.get(f"{server}/v1/stream", timeout=5).status_code == 401


def test_heartbeats_keep_an_idle_stream_open(server: str, runtime: Runtime) -> None:
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{server}/v1/stream", headers=AUTH, params={"heartbeat": 0.5}) as r,
    ):
        lines = r.iter_lines()
        got = [next(lines) for _ in range(5)]
    assert ": heartbeat" in got


def test_tail_prints_live_events(server: str, runtime: Runtime) -> None:
    from spendwarden.cli import app

    make_agent(runtime.ledger, "bot")
    stop = threading.Event()

    def keep_spending() -> None:
        while not stop.is_set():
            if subscribers(runtime):
                runtime.ledger.record(spend("bot", "0.01", vendor="openai"))
            stop.wait(0.05)

    spender = threading.Thread(target=keep_spending)
    spender.start()
    try:
        result = CliRunner().invoke(
            app,
            [
                "tail",
                "--url",
                server,
                "--token",
                ADMIN_TOKEN,
                "--count",
                "2",
                "--json",
                "--kinds",
                "transaction",
            ],
        )
    finally:
        stop.set()
        spender.join()
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.output.splitlines()]
    assert [(e["kind"], e["data"]["agent_id"]) for e in lines] == [("transaction", "bot")] * 2
    table = CliRunner().invoke(app, ["tail", "--url", server, "--token", "wrong", "--count", "1"])
    assert table.exit_code != 0


def test_server_shutdown_ends_open_streams(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SPENDWARDEN_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPENDWARDEN_DATABASE_URL": f"sqlite:///{tmp_path}/sw.db",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendwarden.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url), timeout=60)
        with httpx.Client(timeout=10) as client, client.stream("GET", f"{url}/v1/stream", headers=AUTH) as r:
            lines = r.iter_lines()
            assert next(lines).startswith("retry:")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            for _ in lines:
                pass  # until the server closes the stream
            assert time.monotonic() - started < 5
        # uvicorn finishes its graceful shutdown, then re-raises the signal it caught
        assert proc.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
