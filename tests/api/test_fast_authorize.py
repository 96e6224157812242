"""The fast ``POST /v1/authorize`` route answers exactly as the FastAPI route does.

Every request below goes once to the app as served (fast route first) and once to the
same app without the fast route; status and body must match. Well-formed requests are
answered by the fast route itself, everything else by the FastAPI route it falls back to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.api.fast import FastAuthorize
from spendwarden.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def apps(runtime: Runtime) -> Iterator[tuple[TestClient, TestClient, list[int]]]:
    """(served app, app without the fast route, [fallbacks taken by the served app])."""
    served = create_app(runtime, run_workers=False)
    fast = served.router.routes[0]
    assert isinstance(fast.app, FastAuthorize)  # type: ignore[attr-defined]
    fallbacks: list[int] = []
    route = fast.app.fallback  # type: ignore[attr-defined]
    original = route.handle

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        fallbacks.append(1)
        await original(scope, receive, send)

    fast.app.fallback = type("Counted", (), {"handle": staticmethod(counting)})()  # type: ignore[attr-defined]
    plain = create_app(runtime, run_workers=False)
    plain.router.routes.pop(0)
    with TestClient(served) as a, TestClient(plain) as b:
        yield a, b, fallbacks


def _answer(client: TestClient, headers: dict[str, str], content: bytes) -> tuple[int, Any]:
    r = client.post("/v1/authorize", content=content, headers=headers)
    try:
        body = r.json()
    except ValueError:
        body = r.text
    if r.status_code == 200:  # a new hold each time: compare the shape, not the id
        body = {**body, "id": "auth_…", "expires_at": "…", "headroom": sorted(body["headroom"])}
    return r.status_code, body


def test_every_answer_matches_the_fastapi_route(
    runtime: Runtime, apps: tuple[TestClient, TestClient, list[int]]
) -> None:
    served, plain, fallbacks = apps
    key = make_agent(runtime.ledger, "bot", daily="1000")
    make_agent(runtime.ledger, "stopped", daily="1000")
    halted_key = make_agent(runtime.ledger, "halted", daily="1000")
    runtime.ledger.halt("halted", "test", "stop")
    tiny_key = make_agent(runtime.ledger, "tiny", per_transaction="0.01")
    agent = {**bearer(key), **JSON}
    cases: list[tuple[str, dict[str, str], bytes, bool]] = [
        # (what, headers, body, handled by the fast route)
        ("well formed", agent, b'{"amount_usd": "0.25", "vendor": "openai"}', True),
        ("number amount", agent, b'{"amount_usd": 0.5, "tool": "search", "task_id": "t1"}', True),
        (
            "charset",
            {**bearer(key), "Content-Type": "application/json; charset=utf-8"},
            b'{"amount_usd": 1}',
            True,
        ),
        ("no content type", bearer(key), b'{"amount_usd": 1}', False),
        ("over the cap", {**bearer(tiny_key), **JSON}, b'{"amount_usd": "0.02"}', True),
        ("halted", {**bearer(halted_key), **JSON}, b'{"amount_usd": "0.02"}', True),
        ("no key", JSON, b'{"amount_usd": 1}', True),
        ("wrong key", {**bearer("sw_nope"), **JSON}, b'{"amount_usd": 1}', True),
        ("admin token", {**bearer(ADMIN_TOKEN), **JSON}, b'{"amount_usd": 1}', True),
        ("policy", agent, b'{"amount_usd": 1, "kind": "payment"}', True),
        ("invalid json", agent, b'{"amount_usd": ', False),
        ("invalid json, no key", JSON, b"{", False),
        ("not an object", agent, b"[1, 2]", False),
        ("empty body", agent, b"", False),
        ("missing amount", agent, b'{"vendor": "openai"}', False),
        ("negative", agent, b'{"amount_usd": -1}', False),
        ("seven decimals", agent, b'{"amount_usd": "0.0000001"}', False),
        ("extra field", agent, b'{"amount_usd": 1, "surprise": true}', False),
        ("bad field, no key", JSON, b'{"amount_usd": "x"}', False),
        ("bad amount, no key", JSON, b'{"amount_usd": "0.0000001"}', False),
        ("huge", agent, b'{"amount_usd": 1e300}', False),
        ("NaN", agent, b'{"amount_usd": NaN}', False),
        (
            "deeply nested",
            agent,
            b'{"amount_usd": 1, "metadata": {"a": ' + b"[" * 99_999 + b"]" * 99_999 + b"}}",
            False,
        ),
        ("big int", agent, b'{"amount_usd": 1, "metadata": {"n": 123456789012345678901234567890}}', False),
        ("form body", {**bearer(key), "Content-Type": "text/plain"}, b'{"amount_usd": 1}', False),
        ("long idempotency key", {**agent, "Idempotency-Key": "k" * 201}, b'{"amount_usd": 1}', False),
    ]
    for what, headers, content, fast in cases:
        before = len(fallbacks)
        assert _answer(served, headers, content) == _answer(plain, headers, content), what
        assert (len(fallbacks) == before) == fast, what


def test_idempotent_replay_is_the_same_answer_on_both_routes(
    runtime: Runtime, apps: tuple[TestClient, TestClient, list[int]]
) -> None:
    served, plain, fallbacks = apps
    key = make_agent(runtime.ledger, "bot", daily="10")
    headers = {**bearer(key), **JSON, "Idempotency-Key": "once"}
    first = served.post("/v1/authorize", content=b'{"amount_usd": "1"}', headers=headers)
    again = plain.post("/v1/authorize", content=b'{"amount_usd": "1"}', headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = served.post("/v1/authorize", content=b'{"amount_usd": "2"}', headers=headers)
    assert other.status_code == 409
    assert runtime.ledger.view("bot")["headroom"]["daily"] == "9.000000"  # one hold, not two
    assert fallbacks == []


def test_concurrent_requests_share_commits_and_never_overspend(runtime: Runtime) -> None:
    """200 concurrent requests on the event loop for 20 agents with room for five each:
    exactly 100 approved, every approval committed, and the approvals shared commits
    (SQLite: one transaction per loop iteration, ``db/loop_commit.py``; PostgreSQL: batched
    calls, ``db/pg_batch.py``)."""
    keys = [make_agent(runtime.ledger, f"loop{i}", daily="5.00") for i in range(20)]
    app = create_app(runtime, run_workers=False)

    batchers: list[Any] = []

    async def main() -> list[int]:
        async with app.router.lifespan_context(app):
            if app.state.pg_connections is not None:
                batchers.append(app.state.pg_connections.batcher)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

                async def one(i: int) -> int:
                    r = await client.post(
                        "/v1/authorize", json={"amount_usd": "1"}, headers=bearer(keys[i % 20])
                    )
                    return r.status_code

                return list(await asyncio.gather(*(one(i) for i in range(200))))

    statuses = asyncio.run(main())
    assert statuses.count(200) == 100 and statuses.count(402) == 100
    assert all(runtime.ledger.view(f"loop{i}")["held"] == "5.000000" for i in range(20))
    loop_writes = runtime.store.loop_writes
    if loop_writes is not None:
        # every request decided in a committed batch (denials too), far fewer batches
        assert loop_writes.units == 200 and loop_writes.commits < 20
    else:
        (batcher,) = batchers
        assert batcher is not None and batcher.batched > batcher.batches
