"""``POST /v1/authorize`` on SQLite: a key seen before is checked inside the lean path's own
read on the writer, not looked up again. Every answer the route owes still holds:
revocations on the very next request, halts, rate limits counted once, and whatever the
lean path does not decide answered by the locked path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.ledger import authorize_sqlite
from spendwarden.ledger.agents import AgentSpec
from spendwarden.runtime import Runtime
from tests.api.authorize_scenarios import (
    run_approvals_denials_and_revocations,
    run_idempotency_key,
    run_rate_limit_counted_once,
    serve,
)
from tests.factories import bearer, make_agent

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def lean(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each lean authorization answered: approved, its error's name or code, or
    ``locked`` when it handed the request to the locked path; ``+key`` when the route
    passed the request's key to be checked in the same read."""
    seen: list[str] = []
    real = authorize_sqlite.decide_batch

    def spy(
        core: Any, conn: Any, requests: Sequence[authorize_sqlite.Lean]
    ) -> list[authorize_sqlite.Outcome]:
        outcomes = real(core, conn, requests)
        for (_, _, key_hash), outcome in zip(requests, outcomes, strict=True):
            mark = "+key" if key_hash else ""
            if isinstance(outcome, Exception):
                seen.append(getattr(outcome, "code", type(outcome).__name__) + mark)
            else:
                seen.append(("locked" if outcome is None else "approved") + mark)
        return outcomes

    monkeypatch.setattr(authorize_sqlite, "decide_batch", spy)
    return seen


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, TestClient]]:
    yield from serve(database_url, clock)


def test_known_keys_are_checked_in_the_authorizations_own_read(
    served: tuple[Runtime, TestClient], lean: list[str]
) -> None:
    run_approvals_denials_and_revocations(*served)
    # Every key went into the lean read from its first request on; the revoked key and the
    # revoked agent's key were refused there, the halt by the locked path it handed over to.
    assert lean == [
        "approved+key", "approved+key", "cap_exceeded+key", "approved+key", "KeyRefused+key",
        "locked+key", "approved+key", "KeyRefused+key",
    ]  # fmt: skip


def test_the_rate_limit_counts_a_request_once_whichever_path_answers(
    database_url: str, clock: FrozenClock, lean: list[str]
) -> None:
    run_rate_limit_counted_once(database_url, clock)
    assert lean == ["locked+key", "locked+key", "approved+key"]


def test_an_idempotency_key_goes_to_the_locked_path(
    served: tuple[Runtime, TestClient], lean: list[str]
) -> None:
    run_idempotency_key(*served)
    assert lean == []


def test_one_batch_answers_each_request_its_own(runtime: Runtime, lean: list[str]) -> None:
    """Requests of every kind arriving together are decided in one batch, and each gets its
    own answer: approvals up to the cap and a denial past it for one agent, a halted agent
    and a policy refusal worded by the locked path, a revoked key refused though its agent
    is fine, and an unknown key."""
    keys = {name: make_agent(runtime.ledger, name, daily="2.5") for name in ("full", "halted")}
    keys["ok"] = make_agent(runtime.ledger, "ok", daily="10")
    strict = AgentSpec(id="strict", tier="custom", policy={"allowed_vendors": ["anthropic"]})
    keys["strict"] = runtime.ledger.create_agent(strict, "test")[1]
    runtime.ledger.halt("halted", "test", "look")
    spare_row, spare = runtime.ledger.issue_key("ok", "test")
    app = create_app(runtime, run_workers=False)

    async def main() -> list[tuple[int, str]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

                async def one(key: str) -> tuple[int, str]:
                    r = await client.post(
                        "/v1/authorize", json={"amount_usd": "1", "vendor": "openai"}, headers=bearer(key)
                    )
                    return r.status_code, r.json().get("error", {}).get("code", "approved")

                # every key known (a first request looks it up), then the spare one revoked
                first = await asyncio.gather(*(one(k) for k in (keys["ok"], spare)))
                assert [status for status, _ in first] == [200, 200]
                runtime.ledger.revoke_key("ok", spare_row["id"], "test", "leaked")
                await asyncio.gather(*(one(k) for k in (keys["halted"], keys["strict"])))
                lean.clear()
                writes = runtime.store.loop_writes
                assert writes is not None
                commits = writes.commits
                batch = [keys["full"]] * 4 + [keys["halted"], keys["strict"], spare, keys["ok"], "sw_x"]
                answers = list(await asyncio.gather(*(one(k) for k in batch)))
                assert writes.commits == commits + 1  # one batch, one commit
                return answers

    assert asyncio.run(main()) == [
        (200, "approved"), (200, "approved"), (402, "cap_exceeded"), (402, "cap_exceeded"),
        (423, "agent_halted"), (402, "policy_denied"), (401, "key_revoked"), (200, "approved"),
        (401, "unauthenticated"),
    ]  # fmt: skip
    assert lean == [
        "approved+key", "approved+key", "cap_exceeded+key", "cap_exceeded+key",
        "locked+key", "locked+key", "KeyRefused+key", "approved+key",
    ]  # fmt: skip
    assert runtime.ledger.view("full")["held"] == "2.000000"
