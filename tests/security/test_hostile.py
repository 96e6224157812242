"""Hostile bodies and clients: oversized and deeply nested JSON, invalid UTF-8, numbers no
store can hold, header injection, huge headers and slow clients. Each gets a clear 4xx (or
is cut off by the HTTP server) and changes nothing; no other client waits for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent
from tests.reliability.proc import Server

NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def key(runtime: Runtime) -> str:
    return make_agent(runtime.ledger, "bot", daily="10")


def assert_unchanged(runtime: Runtime) -> None:
    view = runtime.ledger.view("bot")
    assert view["held"] == "0.000000" and view["spend"]["daily"] == "0.000000"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"amount_usd": "1", "vendor": "\xff\xfe"}', 422),  # invalid UTF-8: invalid_json
        (b'{"amount_usd": "1"', 422),  # truncated
        (NESTED, 422),  # 200,000 brackets deep: the JSON parser gives up (invalid_json)
        (b'{"amount_usd": 1e999}', 422),  # infinite
        (b'{"amount_usd": "1", "metadata": {"n": 100000000000000000000000}}', 422),  # beyond 64 bits
        (b'{"amount_usd": "1", "metadata": {"a": "\\ud800"}}', 422),  # a lone surrogate
        (b'{"amount_usd": "1", "metadata": ' + b'{"a":' * 2000 + b"1" + b"}" * 2001, 422),
    ],
    ids=[
        "invalid-utf8",
        "truncated",
        "nested-200k",
        "infinite",
        "int-beyond-64-bit",
        "lone-surrogate",
        "nested-2000",
    ],
)
def test_malformed_bodies_get_422_and_change_nothing(
    client: Any, runtime: Runtime, key: str, body: bytes, status: int
) -> None:
    headers = {**bearer(key), "Content-Type": "application/json"}
    r = client.post("/v1/authorize", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in ("invalid_json", "invalid_request", "invalid_amount")
    assert_unchanged(runtime)


def test_an_oversized_body_gets_413_before_it_is_read(client: Any, runtime: Runtime, key: str) -> None:
    big = b'{"amount_usd": "1", "description": "' + b"x" * 2_000_000 + b'"}'
    r = client.post("/v1/authorize", content=big, headers={**bearer(key), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert_unchanged(runtime)


@pytest.mark.parametrize("path", ["/v1/authorize", "/v1/transactions"])
def test_an_oversized_chunked_body_gets_the_same_413(
    client: Any, runtime: Runtime, key: str, path: str
) -> None:
    """No Content-Length: the limit is found while the body streams in, on the fast
    authorize route and on a FastAPI route alike."""

    def chunks() -> Any:
        yield b'{"amount_usd": "1", "description": "'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"}'

    headers = {**bearer(key), "Content-Type": "application/json"}
    r = client.post(path, content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert_unchanged(runtime)


@pytest.mark.parametrize("field", ["halt_rules", "signals", "task_scope"])
def test_free_form_agent_json_that_cannot_be_stored_is_refused(
    client: Any, admin_headers: dict[str, str], field: str
) -> None:
    r = client.post("/v1/agents", json={"id": "big", field: {"x": 2**70}}, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert client.get("/v1/agents/big", headers=admin_headers).status_code == 404


def test_a_report_file_name_cannot_inject_headers(client: Any, admin_headers: dict[str, str]) -> None:
    for owner in ("a\r\nSet-Cookie: x=1", 'a"; filename="evil.sh', "€uro"):
        params = {
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-12-01T00:00:00Z",
            "format": "csv",
            "owner": owner,
        }
        r = client.get("/v1/reports/billing", params=params, headers=admin_headers)
        assert r.status_code == 200, (owner, r.text)
        assert "set-cookie" not in r.headers
        assert r.headers["content-disposition"].count('"') == 2


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    path = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{path / 'h.db'}"
    rt = build_runtime(Settings(database_url=url, admin_token=ADMIN_TOKEN))
    agent_key = make_agent(rt.ledger, "bot", daily="10")
    rt.close()
    with Server(url, path / "server.log") as server:
        yield server, agent_key


def _trickler(url: str, n_bytes: int = 1000) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(
        b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {n_bytes}\r\n\r\n".encode()
        + b'{"amount_usd": '
    )
    return s


@pytest.mark.slow
def test_slow_clients_do_not_hold_up_anyone_else(live: tuple[Server, str]) -> None:
    server, agent_key = live
    slow = [_trickler(server.url) for _ in range(50)]
    try:
        for _ in range(3):
            for s in slow:
                s.send(b" ")  # one byte at a time, never finishing the body
            t0 = time.monotonic()
            r = httpx.post(
                f"{server.url}/v1/authorize", json={"amount_usd": "0.01"}, headers=bearer(agent_key)
            )
            assert r.status_code == 200
            assert time.monotonic() - t0 < 2.0
            time.sleep(0.3)
    finally:
        for s in slow:
            s.close()
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.slow
def test_huge_headers_are_refused_without_harm(live: tuple[Server, str]) -> None:
    server, agent_key = live
    for name, value in (("X-Junk", "x" * 200_000), ("Authorization", "Bearer " + "k" * 100_000)):
        try:
            r = httpx.get(f"{server.url}/v1/me", headers={**bearer(agent_key), name: value}, timeout=10)
            assert r.status_code < 500, r.status_code  # httptools has no header size cap of its own
        except httpx.RemoteProtocolError:
            pass  # the HTTP server may also just close the connection
    many = {f"X-H{i}": "v" for i in range(2000)}
    r = httpx.get(f"{server.url}/v1/me", headers={**bearer(agent_key), **many}, timeout=10)
    assert r.status_code < 500
    assert httpx.get(f"{server.url}/v1/me", headers=bearer(agent_key)).status_code == 200
    assert "Traceback" not in server.output()
