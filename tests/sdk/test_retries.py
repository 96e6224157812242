"""Retries are safe: transient failures are retried with the same idempotency key, answers
about the request itself (4xx) never are, and a dead server ends in ``ServerUnavailable``."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from spendwarden.sdk import AsyncClient, Client, RateLimited, ServerUnavailable, ValidationFailed
from spendwarden.sdk.transport import RetryPolicy, retry_after_seconds

AUTH = {
    "id": "auth_1",
    "status": "approved",
    "agent_id": "bot",
    "amount_usd": "0.010000",
    "expires_at": "2026-11-23T12:10:00Z",
    "headroom": {},
}


class Script(ThreadingHTTPServer):
    """Answers each request with the next scripted (status, headers, body) and records it."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), ScriptHandler)
        self.script = script
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptHandler(BaseHTTPRequestHandler):
    server: Script

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.server.seen.append(
            {"headers": dict(self.headers), "body": json.loads(self.rfile.read(length) or b"{}")}
        )
        status, headers, body = self.server.script.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {**headers, "content-type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[Script]:
    server = Script(list(request.param))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


UNAVAILABLE = (503, {"retry-after": "0"}, {"error": {"code": "internal_error", "message": "busy"}})


@pytest.mark.parametrize("scripted", [[UNAVAILABLE, UNAVAILABLE, (200, {}, AUTH)]], indirect=True)
def test_5xx_is_retried_with_the_same_idempotency_key(scripted: Script) -> None:
    auth = Client(key="sk_agent_x", url=scripted.url, retries=3).authorize("0.01")
    assert auth.id == "auth_1"
    keys = {seen["headers"]["Idempotency-Key"] for seen in scripted.seen}
    assert len(scripted.seen) == 3 and len(keys) == 1


LIMITED = (429, {"retry-after": "0"}, {"error": {"code": "rate_limited", "message": "slow down"}})


@pytest.mark.parametrize("scripted", [[LIMITED, (200, {}, AUTH)]], indirect=True)
async def test_429_is_retried_after_retry_after(scripted: Script) -> None:
    async with AsyncClient(key="sk_agent_x", url=scripted.url, retries=2) as client:
        assert (await client.authorize("0.01")).id == "auth_1"
    assert len(scripted.seen) == 2


@pytest.mark.parametrize("scripted", [[LIMITED, LIMITED]], indirect=True)
def test_429_after_every_retry_raises_rate_limited(scripted: Script) -> None:
    with pytest.raises(RateLimited):
        Client(key="sk_agent_x", url=scripted.url, retries=1).authorize("0.01")


INVALID = (422, {}, {"error": {"code": "invalid_request", "message": "vendor: too long", "details": {}}})


@pytest.mark.parametrize("scripted", [[INVALID, (200, {}, AUTH)]], indirect=True)
def test_4xx_is_never_retried(scripted: Script) -> None:
    with pytest.raises(ValidationFailed, match="vendor: too long"):
        Client(key="sk_agent_x", url=scripted.url, retries=3).authorize("0.01")
    assert len(scripted.seen) == 1


def test_a_dead_server_ends_in_server_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(key="sk_agent_x", url=f"http://127.0.0.1:{port}", retries=2)
    client._transport.policy = RetryPolicy(retries=2, backoff=0.001)
    with pytest.raises(ServerUnavailable) as info:
        client.authorize("0.01")
    assert info.value.details["error"] == "ConnectError"


def test_retry_after_accepts_seconds_and_dates() -> None:
    import httpx

    assert retry_after_seconds(httpx.Response(429, headers={"retry-after": "2"})) == 2.0
    dated = httpx.Response(429, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert (retry_after_seconds(dated) or 0) < 0
    assert RetryPolicy(max_retry_after=5).delay(0, 60) == 5
