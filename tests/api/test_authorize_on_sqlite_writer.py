"""``POST /v1/authorize`` on SQLite: a key seen before is checked inside the lean path's own
read on the writer, not looked up again. Every answer the route owes still holds:
revocations on the very next request, halts, rate limits counted once, and whatever the
lean path does not decide answered by the locked path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.ledger import authorize_sqlite
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def lean(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each lean authorization answered: approved, a raised error's name or code, or
    ``locked`` when it handed the request to the locked path; ``+key`` when the route
    passed the request's key to be checked in the same read."""
    seen: list[str] = []
    real = authorize_sqlite.try_authorize

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        mark = "+key" if kwargs.get("key_hash") else ""
        try:
            body = real(*args, **kwargs)
        except Exception as exc:
            seen.append(getattr(exc, "code", type(exc).__name__) + mark)
            raise
        seen.append(("locked" if body is None else body["status"]) + mark)
        return body

    monkeypatch.setattr(authorize_sqlite, "try_authorize", spy)
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


def test_known_keys_are_checked_in_the_authorizations_own_read(
    served: tuple[Runtime, TestClient], lean: list[str]
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
    halted = _authorize(client, key, "0.1")
    assert (halted.status_code, halted.json()["error"]["details"]["reason"]) == (423, "look")
    client.post("/v1/agents/bot/resume", headers=ADMIN, json={"reason": "ok"})
    assert _authorize(client, key, "0.1").status_code == 200
    client.post("/v1/agents/bot/revoke", headers=ADMIN, json={"reason": "retired"})
    gone = _authorize(client, key, "0.1")
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "agent_revoked")
    assert _authorize(client, "sw_agent_nope").status_code == 401
    assert _authorize(client, ADMIN_TOKEN).status_code == 403

    # Every key went into the lean read from its first request on; the revoked key and the
    # revoked agent's key were refused there, the halt by the locked path it handed over to.
    assert lean == [
        "approved+key", "approved+key", "cap_exceeded+key", "approved+key", "KeyRefused+key",
        "locked+key", "approved+key", "KeyRefused+key",
    ]  # fmt: skip
    assert runtime.ledger.view("bot")["held"] == "2.200000"  # the four approvals, nothing else


def test_the_rate_limit_counts_a_request_once_whichever_path_answers(
    database_url: str, clock: FrozenClock, lean: list[str]
) -> None:
    """Burst of two per key: a halted agent's requests (admitted, then handed to the locked
    path) use one token each, so the third is 429; another key has its own bucket."""
    for runtime, client in _client(database_url, clock, rate_limit_per_second=0.01, rate_limit_burst=2):
        bot_key = make_agent(runtime.ledger, "bot", daily="10")
        key = make_agent(runtime.ledger, "halted", daily="10")
        runtime.ledger.halt("halted", "test", "look")
        assert [_authorize(client, key).status_code for _ in range(3)] == [423, 423, 429]
        assert _authorize(client, bot_key).status_code == 200
    assert lean == ["locked+key", "locked+key", "approved+key"]


def test_an_idempotency_key_goes_to_the_locked_path(
    served: tuple[Runtime, TestClient], lean: list[str]
) -> None:
    runtime, client = served
    key = make_agent(runtime.ledger, "bot", daily="10")
    headers = {**bearer(key), "Idempotency-Key": "once"}
    first = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    again = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=headers)
    assert first.json() == again.json()
    assert runtime.ledger.view("bot")["held"] == "1.000000"
    assert lean == []
