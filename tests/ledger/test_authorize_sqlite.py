"""SQLite's lean authorization (``ledger/authorize_sqlite.py``) against the locked path: the
same answers, errors and money; every error is worded by the locked path; and a change
made by another process is obeyed on the very next request."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.errors import CapExceeded
from spendwarden.ledger import authorize_sqlite
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.caps import CAP_NAMES
from spendwarden.ledger.service import Ledger
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.ledger.twins import run_changes_by_another_process, run_twin_workload

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def twins(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database file, as two processes: the first authorizes on the
    lean path, the second only on the locked path."""
    settings = Settings(database_url=database_url, admin_token="a" * 40)
    fast = build_runtime(settings, clock=clock, migrate=False)
    locked = build_runtime(settings, clock=clock, migrate=False)
    locked.ledger.authorize = partial(Ledger.authorize, locked.ledger, try_fast_path=False)  # type: ignore[method-assign]
    yield fast, locked
    fast.close()
    locked.close()


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the lean path did with each request: approved, denied, or passed on (None)."""
    seen: list[str] = []
    real = authorize_sqlite.try_authorize

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            body = real(*args, **kwargs)
        except CapExceeded:
            seen.append("denied")
            raise
        seen.append("passed" if body is None else "approved")
        return body

    monkeypatch.setattr(authorize_sqlite, "try_authorize", spy)
    return seen


def test_lean_path_answers_as_the_locked_path(
    twins: tuple[Runtime, Runtime], clock: FrozenClock, answers: list[str]
) -> None:
    fast, locked = twins
    run_twin_workload(fast, locked, clock)
    assert answers.count("approved") > 50 and answers.count("denied") > 10
    assert "passed" in answers  # policy refusals and halted agents: worded by the locked path


def test_a_change_by_another_process_is_obeyed_on_the_next_request(
    twins: tuple[Runtime, Runtime], answers: list[str]
) -> None:
    run_changes_by_another_process(*twins)
    assert answers == ["approved", "denied", "passed", "passed", "approved", "passed", "passed"]


@pytest.mark.parametrize("cap", CAP_NAMES)
def test_every_cap_holds_to_the_last_micro_dollar(runtime: Runtime, cap: str, answers: list[str]) -> None:
    runtime.ledger.create_agent(AgentSpec(id="edge", tier="custom", caps={cap: usd("1.000001")}), "test")
    task = "t" if cap == "per_task" else None
    first = usd("1") if cap == "per_transaction" else usd("0.6")
    runtime.ledger.authorize("edge", AuthorizeRequest(amount=first, task_id=task))
    rest = usd("1.000001") - (0 if cap == "per_transaction" else first)
    with pytest.raises(CapExceeded) as denied:
        runtime.ledger.authorize("edge", AuthorizeRequest(amount=rest + 1, task_id=task))
    assert denied.value.details["cap"] == cap
    body = runtime.ledger.authorize("edge", AuthorizeRequest(amount=rest, task_id=task))
    assert body["status"] == "approved"
    if cap != "per_transaction":
        assert body["headroom"][cap] == "0.000000"
    assert answers == ["approved", "denied", "approved"]
