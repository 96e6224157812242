"""``POST /v1/authorize`` on SQLite: a key seen before is checked inside the lean path's own
read on the writer, not looked up again. Every answer the route owes still holds:
revocations on the very next request, halts, rate limits counted once, and whatever the
lean path does not decide answered by the locked path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.clock import FrozenClock
from spendwarden.ledger import authorize_sqlite
from spendwarden.runtime import Runtime
from tests.api.authorize_scenarios import (
    run_approvals_denials_and_revocations,
    run_idempotency_key,
    run_rate_limit_counted_once,
    serve,
)

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
