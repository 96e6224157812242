"""What ``POST /v1/authorize`` owes whichever fast path serves it (PostgreSQL's function on
the event loop, SQLite's lean read on the writer): the scenarios, run by
``test_authorize_in_database`` and ``test_authorize_on_sqlite_writer``, which each also
check which path answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def serve(database_url: str, clock: FrozenClock, **settings: Any) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = build_runtime(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN, **settings), clock=clock, migrate=False
    )
    with TestClient(create_app(runtime, run_workers=False)) as client:
        yield runtime, client
    runtime.close()


def authorize(client: TestClient, key: str, amount: str = "1") -> Any:
    return client.post("/v1/authorize", json={"amount_usd": amount, "vendor": "openai"}, headers=bearer(key))


def run_approvals_denials_and_revocations(runtime: Runtime, client: TestClient) -> None:
    """Approvals, a cap denial, a second key revoked (refused on the very next request), a
    halt and a resume, the agent revoked, an unknown key and the admin token: eight
    requests reach the fast path, in that order."""
    key = make_agent(runtime.ledger, "bot", daily="2.5")
    assert authorize(client, key).json()["headroom"] == {"daily": "1.500000"}
    assert authorize(client, key).json()["headroom"] == {"daily": "0.500000"}
    denied = authorize(client, key)
    assert denied.status_code == 402 and denied.json()["error"]["details"]["cap"] == "daily"

    second = client.post("/v1/agents/bot/keys", headers=ADMIN).json()
    assert authorize(client, second["api_key"], "0.1").status_code == 200
    client.post(f"/v1/agents/bot/keys/{second['key']['id']}/revoke", headers=ADMIN, json={"reason": "leaked"})
    refused = authorize(client, second["api_key"], "0.1")  # the very next request
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_revoked")

    client.post("/v1/agents/bot/halt", headers=ADMIN, json={"reason": "look"})
    halted = authorize(client, key, "0.1")
    assert (halted.status_code, halted.json()["error"]["details"]["reason"]) == (423, "look")
    client.post("/v1/agents/bot/resume", headers=ADMIN, json={"reason": "ok"})
    assert authorize(client, key, "0.1").status_code == 200
    client.post("/v1/agents/bot/revoke", headers=ADMIN, json={"reason": "retired"})
    gone = authorize(client, key, "0.1")
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "agent_revoked")
    assert authorize(client, "sw_agent_nope").status_code == 401
    assert authorize(client, ADMIN_TOKEN).status_code == 403
    assert runtime.ledger.view("bot")["held"] == "2.200000"  # the four approvals, nothing else


def run_rate_limit_counted_once(database_url: str, clock: FrozenClock) -> None:
    """Burst of two per key: a halted agent's requests (admitted by the fast path, then
    handed over to the blocking path) use one token each, so the third is 429; another key
    has its own bucket."""
    for runtime, client in serve(database_url, clock, rate_limit_per_second=0.01, rate_limit_burst=2):
        bot_key = make_agent(runtime.ledger, "bot", daily="10")
        key = make_agent(runtime.ledger, "halted", daily="10")
        runtime.ledger.halt("halted", "test", "look")
        assert [authorize(client, key).status_code for _ in range(3)] == [423, 423, 429]
        assert authorize(client, bot_key).status_code == 200


def run_idempotency_key(runtime: Runtime, client: TestClient) -> None:
    """A request with an idempotency key, twice: the same answer, one hold."""
    key = make_agent(runtime.ledger, "bot", daily="10")
    headers = {**bearer(key), "Idempotency-Key": "once"}
    first = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    again = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    assert first.json() == again.json()
    assert runtime.ledger.view("bot")["held"] == "1.000000"
