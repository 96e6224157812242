"""Outbound webhooks with real HTTP receivers on 127.0.0.1: one slow, one failing at first."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from spendwarden.clock import FrozenClock
from spendwarden.db import queries_ingest as qi
from spendwarden.ingest.plugin import sender_of
from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent


class Receiver:
    def __init__(self, delay: float = 0.0, fail_first: int = 0) -> None:
        self.delay, self.fail_first = delay, fail_first
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                receiver.received.append((dict(self.headers), body))
                failing = len(receiver.received) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    slow, flaky = Receiver(delay=1.0), Receiver(fail_first=1)
    yield slow, flaky
    slow.close()
    flaky.close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in headers["Spendwarden-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_signed_deliveries_retry_log_and_redeliver(
    runtime: Runtime,
    client: TestClient,
    admin_headers: dict[str, str],
    clock: FrozenClock,
    receivers: tuple[Receiver, Receiver],
) -> None:
    slow, flaky = receivers
    made = [
        client.post(
            "/v1/webhooks", json={"url": r.url, "events": ["transaction.recorded"]}, headers=admin_headers
        )
        for r in (slow, flaky)
    ]
    assert all(m.status_code == 201 for m in made), made[0].text
    secrets = [m.json()["secret"] for m in made]
    ids = [m.json()["webhook"]["id"] for m in made]
    key = make_agent(runtime.ledger, "a")  # agent.* is not subscribed: nothing queued for it
    started = time.perf_counter()
    recorded = client.post("/v1/transactions", json={"amount_usd": "0.10"}, headers=bearer(key))
    assert recorded.status_code == 201
    assert time.perf_counter() - started < 0.5  # the slow subscriber is not on the write path
    sender = sender_of(runtime)
    assert sender.deliver_due() == 2
    assert len(slow.received) == 1 and len(flaky.received) == 1
    headers, body = slow.received[0]
    assert verify(secrets[0], headers, body)
    envelope = orjson.loads(body)
    assert envelope["type"] == "transaction.recorded"
    assert envelope["data"]["id"] == recorded.json()["transaction"]["id"]
    log = client.get(f"/v1/webhooks/{ids[1]}/deliveries", headers=admin_headers).json()["deliveries"]
    assert log[0]["status"] == "pending" and log[0]["last_status_code"] == 500 and log[0]["attempts"] == 1
    assert sender.deliver_due() == 0  # backoff: not due yet
    clock.advance(2)
    assert sender.deliver_due() == 1
    assert verify(secrets[1], *flaky.received[1])
    log = client.get(f"/v1/webhooks/{ids[1]}/deliveries", headers=admin_headers).json()["deliveries"]
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 2
    again = client.post(f"/v1/webhooks/{ids[1]}/deliveries/{log[0]['id']}/redeliver", headers=admin_headers)
    assert again.status_code == 200 and again.json()["delivery"]["status"] == "pending"
    assert sender.deliver_due() == 1
    assert len(flaky.received) == 3 and flaky.received[2][1] == flaky.received[1][1]


def test_filters_disable_and_validation(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str], receivers: tuple[Receiver, Receiver]
) -> None:
    _slow, flaky = receivers
    flaky.fail_first = 0
    bad = client.post("/v1/webhooks", json={"url": flaky.url, "events": ["money.*"]}, headers=admin_headers)
    assert bad.status_code == 422
    made = client.post("/v1/webhooks", json={"url": flaky.url, "events": ["agent.*"], "secret": "s" * 20},
                       headers=admin_headers).json()  # fmt: skip
    assert made["secret"] == "s" * 20
    key = make_agent(runtime.ledger, "a")
    client.post("/v1/transactions", json={"amount_usd": "0.10"}, headers=bearer(key))
    client.post("/v1/agents/a/halt", json={"reason": "test"}, headers=admin_headers)
    sender_of(runtime).deliver_due()
    events = [orjson.loads(body)["type"] for _h, body in flaky.received]
    # transaction.* is filtered out; deliveries go out concurrently, so arrival order is free
    assert sorted(events) == ["agent.created", "agent.halted"]
    patched = client.patch(
        f"/v1/webhooks/{made['webhook']['id']}", json={"enabled": False}, headers=admin_headers
    )
    assert patched.json()["webhook"]["enabled"] is False
    client.post("/v1/agents/a/resume", json={"reason": "test"}, headers=admin_headers)
    assert sender_of(runtime).deliver_due() == 0
    assert client.delete(f"/v1/webhooks/{made['webhook']['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"/v1/webhooks/{made['webhook']['id']}", headers=admin_headers).status_code == 404


def test_deliveries_commit_with_the_ledger_row(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    """The outbox rows are written in the ledger's own transaction: a process that dies
    right after the commit (no publisher ever runs) still has every delivery queued, and
    a write that rolls back queues nothing."""
    made = client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"]}, headers=admin_headers
    )
    assert made.status_code == 201
    sub_id = made.json()["webhook"]["id"]
    key = make_agent(runtime.ledger, "outbox-bot", daily="1")
    runtime.ledger.core.publishers.clear()  # "crash" between commit and publishing

    ok = client.post("/v1/transactions", json={"amount_usd": "0.25", "vendor": "openai"}, headers=bearer(key))
    assert ok.status_code == 201, ok.text
    denied = client.post("/v1/authorize", json={"amount_usd": "5"}, headers=bearer(key))
    assert denied.status_code == 402

    with runtime.store.read() as conn:
        rows = qi.list_webhook_deliveries(conn, sub_id, status=None, before=None, limit=100)
    events = sorted(d["event"] for d in rows)
    assert events == ["agent.created", "transaction.recorded"]
