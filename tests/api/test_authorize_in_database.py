"""``POST /v1/authorize`` on PostgreSQL: the key lookup and ``spendwarden_authorize`` are
awaited on the event loop's own connections. Every answer the route owes still holds:
revocations at once, halts, rate limits counted once, and whatever the function does not
decide answered by the blocking path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.api import fast
from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.ledger import authorize_pg
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def on_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each event-loop authorization answered: approved, a raised error's code, or
    ``blocking`` when it handed the request to the blocking path."""
    seen: list[str] = []
    real = fast.try_authorize_async

    async def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            body = await real(*args, **kwargs)
        except Exception as exc:
            seen.append(getattr(exc, "code", type(exc).__name__))
            raise
        seen.append("blocking" if body is None else body["status"])
        return body

    monkeypatch.setattr(fast, "try_authorize_async", spy)
    return seen


def _client(database_url: str, clock: FrozenClock, **settings: Any) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = build_runtime(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN, **settings), clock=clock, migrate=False
    )
    with TestClient(create_app(runtime, run_workers=False)) as client:
        yield runtime, client
    runtime.close()


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, TestClient]]:
    yield from _client(database_url, clock)


def _authorize(client: TestClient, key: str, amount: str = "1") -> Any:
    return client.post("/v1/authorize", json={"amount_usd": amount, "vendor": "openai"}, headers=bearer(key))


def test_approvals_denials_and_revocations_on_the_event_loop(
    served: tuple[Runtime, TestClient], on_loop: list[str]
) -> None:
    runtime, client = served
    key = make_agent(runtime.ledger, "bot", daily="2.5")
    assert _authorize(client, key).json()["headroom"] == {"daily": "1.500000"}
    assert _authorize(client, key).json()["headroom"] == {"daily": "0.500000"}
    denied = _authorize(client, key)
    assert denied.status_code == 402 and denied.json()["error"]["details"]["cap"] == "daily"

    second = client.post("/v1/agents/bot/keys", headers=ADMIN).json()
    assert _authorize(client, second["api_key"], "0.1").status_code == 200
    client.post(f"/v1/agents/bot/keys/{second['key']['id']}/revoke", headers=ADMIN, json={"reason": "leaked"})
    refused = _authorize(client, second["api_key"], "0.1")  # the very next request
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_revoked")

    client.post("/v1/agents/bot/halt", headers=ADMIN, json={"reason": "look"})
    assert _authorize(client, key, "0.1").status_code == 423
    client.post("/v1/agents/bot/resume", headers=ADMIN, json={"reason": "ok"})
    assert _authorize(client, key, "0.1").status_code == 200
    client.post("/v1/agents/bot/revoke", headers=ADMIN, json={"reason": "retired"})
    gone = _authorize(client, key, "0.1")
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "agent_revoked")
    assert _authorize(client, "sw_agent_nope").status_code == 401
    assert _authorize(client, ADMIN_TOKEN).status_code == 403

    # The keys were known from their first request: the revoked key, and the revoked
    # agent's key, were refused by the database function itself; the halt by the blocking
    # path it handed over to.
    assert on_loop == [
        "approved", "approved", "cap_exceeded", "approved", "KeyRefused", "blocking", "approved", "KeyRefused"
    ]  # fmt: skip
    assert runtime.ledger.view("bot")["held"] == "2.200000"  # the four approvals, nothing else


def test_an_idempotency_key_goes_to_the_blocking_path(
    served: tuple[Runtime, TestClient], on_loop: list[str]
) -> None:
    runtime, client = served
    key = make_agent(runtime.ledger, "bot", daily="10")
    headers = {**bearer(key), "Idempotency-Key": "once"}
    first = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    again = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    assert first.json() == again.json()
    assert runtime.ledger.view("bot")["held"] == "1.000000"
    assert on_loop == []


def test_the_rate_limit_counts_a_request_once_whichever_path_answers(
    database_url: str, clock: FrozenClock, on_loop: list[str]
) -> None:
    """Burst of two per key: a halted agent's requests (the loop looks the key up and
    admits it, then hands over to the blocking path) use one token each, so the third is
    429; another key has its own bucket."""
    for runtime, client in _client(database_url, clock, rate_limit_per_second=0.01, rate_limit_burst=2):
        bot_key = make_agent(runtime.ledger, "bot", daily="10")
        key = make_agent(runtime.ledger, "halted", daily="10")
        runtime.ledger.halt("halted", "test", "look")
        assert [_authorize(client, key).status_code for _ in range(3)] == [423, 423, 429]
        assert _authorize(client, bot_key).status_code == 200
    assert on_loop == ["blocking", "blocking", "approved"]


def test_a_new_key_brings_its_agents_configuration(
    served: tuple[Runtime, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key lookup of a key not seen before reads the agent's caps and policy with it,
    so the authorization needs no read of its own: two statements for a new key, one for
    a known key, on a fleet too big to keep every agent in mind."""
    runtime, client = served
    reads: list[str] = []
    real = authorize_pg._known
    monkeypatch.setattr(
        authorize_pg,
        "_known",
        lambda core, agent_id, row: reads.append(agent_id) or real(core, agent_id, row),
    )
    key = make_agent(runtime.ledger, "bot", daily="10")
    runtime.ledger.core.known_agents.forget("bot")
    assert _authorize(client, key).status_code == 200
    assert _authorize(client, key).status_code == 200
    assert reads == []
    assert runtime.ledger.view("bot")["held"] == "2.000000"
