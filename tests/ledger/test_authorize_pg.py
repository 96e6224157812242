"""PostgreSQL's one-round-trip authorization (``spendwarden_authorize``, migration 0008)
against the locked path: the same answers, errors and money, and no decision on a
configuration another process has changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import upgrade
from spendwarden.db.pg_authorize import DatabaseDecision
from spendwarden.errors import (
    CapExceeded,
)
from spendwarden.ledger import authorize_pg
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.ledger.twins import run_changes_by_another_process, run_twin_workload

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
def twins(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database, as two processes: the first authorizes with the
    database function, the second on the locked path."""
    fast = build_runtime(
        Settings(database_url=database_url, admin_token="a" * 40), clock=clock, migrate=False
    )
    locked = build_runtime(
        Settings(database_url=database_url, admin_token="a" * 40, authorize_in_database=False),
        clock=clock,
        migrate=False,
    )
    yield fast, locked
    fast.close()
    locked.close()


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The outcome of every call of the database function."""
    seen: list[str] = []
    real = authorize_pg.authorize_in_database

    def spy(*args: Any, **kwargs: Any) -> DatabaseDecision:
        decision = real(*args, **kwargs)
        seen.append(decision.outcome)
        return decision

    monkeypatch.setattr(authorize_pg, "authorize_in_database", spy)
    return seen


def test_database_function_answers_as_the_locked_path(
    twins: tuple[Runtime, Runtime], clock: FrozenClock, decisions: list[str]
) -> None:
    """The twin workload (``twins.run_twin_workload``): the database function answers and
    counts as the locked path does."""
    fast, locked = twins
    run_twin_workload(fast, locked, clock)
    assert decisions.count("approved") > 50 and decisions.count("denied") > 10
    assert "stale" in decisions  # settlements broke caps and halted agents: the function noticed


def test_a_change_by_another_process_is_never_decided_on(
    twins: tuple[Runtime, Runtime], decisions: list[str]
) -> None:
    """The first runtime has the agent's configuration cached; the second changes it
    between requests. Each next authorization obeys the change."""
    run_changes_by_another_process(*twins)
    # the caps change, the halt and the revoke were each caught by the function; the
    # policy change by the fresh read that followed the first catch
    assert decisions == ["approved", "stale", "stale", "approved", "stale"]


def test_requests_with_an_idempotency_key_replay_on_the_locked_path(
    twins: tuple[Runtime, Runtime], decisions: list[str]
) -> None:
    fast, _ = twins
    fast.ledger.create_agent(AgentSpec(id="bot", tier="custom", caps={"daily": usd("10")}), "test")
    req = AuthorizeRequest(amount=usd("1"))
    first = fast.ledger.authorize("bot", req, idempotency_key="k1")
    assert fast.ledger.authorize("bot", req, idempotency_key="k1") == first
    assert fast.ledger.view("bot")["held"] == "1.000000"
    assert decisions == []


def test_migration_0008_installs_and_removes_the_function(database_url: str) -> None:
    engine = make_null_pool_engine(database_url)
    count = "SELECT count(*) FROM pg_proc WHERE proname = 'spendwarden_authorize'"
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql(count).scalar() == 1
        from alembic import command

        from spendwarden.db.migrate import alembic_config

        with engine.begin() as conn:
            cfg = alembic_config(database_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        with engine.connect() as conn:
            assert conn.exec_driver_sql(count).scalar() == 0
        upgrade(database_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql(count).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "cap", ["per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total"]
)
def test_the_function_approves_up_to_the_last_micro_dollar(
    twins: tuple[Runtime, Runtime], decisions: list[str], cap: str
) -> None:
    """Each cap, in the function: a hold that reaches the limit exactly is approved, one
    micro-dollar more is denied, naming the cap."""
    fast, _ = twins
    fast.ledger.create_agent(AgentSpec(id="bot", tier="custom", caps={cap: usd("1.000001")}), "test")
    first = usd("0.4") if cap != "per_transaction" else usd("1.000001")
    fast.ledger.authorize("bot", AuthorizeRequest(amount=first, task_id="t"))
    rest = usd("1.000001") - first if cap != "per_transaction" else usd("1.000001")
    assert fast.ledger.authorize("bot", AuthorizeRequest(amount=rest, task_id="t"))["headroom"][cap] == (
        "0.000000" if cap != "per_transaction" else "1.000001"
    )
    over = 1 if cap != "per_transaction" else usd("1.000002")
    with pytest.raises(CapExceeded) as denied:
        fast.ledger.authorize("bot", AuthorizeRequest(amount=over, task_id="t"))
    assert denied.value.details["cap"] == cap
    assert decisions == ["approved", "approved", "denied"]
