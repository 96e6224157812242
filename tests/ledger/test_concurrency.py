"""1,000 concurrent authorizations racing for one cap: exactly as many as fit are approved.

The same races run again on SQLite with ``sqlite_synchronous=full``, where concurrent units
share commits (group commit, a savepoint per unit) instead of committing one by one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.errors import CapExceeded
from spendwarden.events import SpendEvent
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_agent


@pytest.fixture
def group_commit_runtime(sqlite_template: Path, tmp_path: Path, clock: FrozenClock) -> Iterator[Runtime]:
    shutil.copy(sqlite_template, tmp_path / "full.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'full.db'}", admin_token=ADMIN_TOKEN, sqlite_synchronous="full"
    )
    rt = build_runtime(settings, clock=clock, migrate=False)
    yield rt
    rt.close()


def test_racing_authorizations_never_overspend(runtime: Runtime) -> None:
    racing_authorizations_never_overspend(runtime)


def test_racing_authorizations_never_overspend_with_group_commit(group_commit_runtime: Runtime) -> None:
    racing_authorizations_never_overspend(group_commit_runtime)


def test_racing_settlements_and_authorizations_keep_counters_exact(runtime: Runtime) -> None:
    racing_settlements_keep_counters_exact(runtime)


def test_racing_settlements_keep_counters_exact_with_group_commit(group_commit_runtime: Runtime) -> None:
    racing_settlements_keep_counters_exact(group_commit_runtime)


def racing_authorizations_never_overspend(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "racer", daily="2.50")  # 250 holds of one cent fit

    def attempt(i: int) -> bool:
        try:
            ledger.authorize("racer", AuthorizeRequest(amount=usd("0.01"), task_id=f"t{i % 7}"))
            return True
        except CapExceeded:
            return False

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(attempt, range(1000)))
    assert sum(results) == 250
    view = ledger.view("racer")
    assert view["held"] == "2.500000"
    assert view["headroom"]["daily"] == "0.000000"


def racing_settlements_keep_counters_exact(runtime: Runtime) -> None:
    ledger = runtime.ledger

    make_agent(ledger, "mixed", daily="100.00")

    def cycle(i: int) -> None:
        hold = ledger.authorize("mixed", AuthorizeRequest(amount=usd("0.05")))
        ledger.settle("mixed", hold["id"], SpendEvent(agent_id="mixed", amount=usd("0.03")))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(cycle, range(200)))
    view = ledger.view("mixed")
    assert view["spend"]["daily"] == "6.000000"
    assert view["held"] == "0.000000"
    assert ledger.verify("mixed")["ok"]
