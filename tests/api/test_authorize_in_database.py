"""``POST /v1/authorize`` on PostgreSQL: the key lookup and ``spendwarden_authorize`` are
awaited on the event loop's own connections. Every answer the route owes still holds:
revocations at once, halts, rate limits counted once, and whatever the function does not
decide answered by the blocking path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.clock import FrozenClock
from spendwarden.db import pg_authorize
from spendwarden.db.pg_authorize import AuthorizeCall, DatabaseDecision
from spendwarden.ledger import on_loop as on_loop_module
from spendwarden.runtime import Runtime
from tests.api.authorize_scenarios import (
    authorize,
    run_approvals_denials_and_revocations,
    run_idempotency_key,
    run_rate_limit_counted_once,
    serve,
)
from tests.factories import make_agent

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
def on_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each event-loop authorization answered: approved, a raised error's code, or
    ``blocking`` when it handed the request to the blocking path."""
    seen: list[str] = []
    real = on_loop_module.try_authorize_async

    async def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            body = await real(*args, **kwargs)
        except Exception as exc:
            seen.append(getattr(exc, "code", type(exc).__name__))
            raise
        seen.append("blocking" if body is None else body["status"])
        return body

    monkeypatch.setattr(on_loop_module, "try_authorize_async", spy)
    return seen


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, TestClient]]:
    yield from serve(database_url, clock)


def test_approvals_denials_and_revocations_on_the_event_loop(
    served: tuple[Runtime, TestClient], on_loop: list[str]
) -> None:
    run_approvals_denials_and_revocations(*served)
    # The keys were known from their first request: the revoked key, and the revoked
    # agent's key, were refused by the database function itself; the halt by the blocking
    # path it handed over to.
    assert on_loop == [
        "approved", "approved", "cap_exceeded", "approved", "KeyRefused", "blocking", "approved", "KeyRefused"
    ]  # fmt: skip


def test_an_idempotency_key_goes_to_the_blocking_path(
    served: tuple[Runtime, TestClient], on_loop: list[str]
) -> None:
    run_idempotency_key(*served)
    assert on_loop == []


def test_the_rate_limit_counts_a_request_once_whichever_path_answers(
    database_url: str, clock: FrozenClock, on_loop: list[str]
) -> None:
    run_rate_limit_counted_once(database_url, clock)
    assert on_loop == ["blocking", "blocking", "approved"]


def test_a_new_key_brings_its_agents_configuration(
    served: tuple[Runtime, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key lookup of a key not seen before reads the agent's caps and policy with it,
    so even the first authorization passes them to the function: two statements for a new
    key, one for a known key, on a fleet too big to keep every agent in mind."""
    runtime, client = served
    configured: list[bool] = []  # per call of the function: whether it passed the texts
    real = pg_authorize.authorize_in_database_async

    async def spy(conn: Any, call: AuthorizeCall) -> DatabaseDecision:
        configured.append(call.caps_text is not None)
        return await real(conn, call)

    monkeypatch.setattr(pg_authorize, "authorize_in_database_async", spy)
    key = make_agent(runtime.ledger, "bot", daily="10")
    runtime.ledger.core.known_agents.forget("bot")
    assert authorize(client, key).status_code == 200
    assert authorize(client, key).status_code == 200
    assert configured == [True, True]
    assert runtime.ledger.view("bot")["held"] == "2.000000"
