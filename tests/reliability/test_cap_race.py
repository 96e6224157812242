"""An authorization that waits for the agent's lock while a settlement of the same agent
commits must see that settlement's spend.

Found by the crash and replica-kill tests on PostgreSQL (a capped agent spent $3.01 of a
$3.00 cap with every settlement on time). This is the race, made deterministic: a blocker
holds the agent's row lock, a settlement queues behind it, then an authorization queues
behind the settlement; the blocker lets go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from spendwarden.config import Settings
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.errors import AgentHalted, CapExceeded
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN

# Row locks and waiting transactions: PostgreSQL's case (SQLite has one writer at a time).
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


def waiting_on_locks(database_url: str, n: int) -> None:
    """Until ``n`` other sessions wait for a lock (the queue order is then known)."""
    engine = make_null_pool_engine(database_url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
            if waiting >= n:
                return
            time.sleep(0.02)
        pytest.fail(f"{n} sessions never queued for the lock")
    finally:
        engine.dispose()


@pytest.fixture
def rt(database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=database_url, admin_token=ADMIN_TOKEN), migrate=False)
    yield runtime
    runtime.close()


def race(database_url: str, agent_id: str, first: Callable[[], Any], then: Callable[[], Any]) -> Future[Any]:
    """``first`` then ``then`` both queue for the agent's row lock (held by a blocker) in that
    order; the blocker lets go. Returns ``then``'s future once ``first`` has finished."""
    blocker = make_null_pool_engine(database_url)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool, blocker.connect() as lock:
            lock.execute(text("SELECT 1 FROM agent_state WHERE agent_id = :a FOR UPDATE"), {"a": agent_id})
            ahead: Future[Any] = pool.submit(first)
            waiting_on_locks(database_url, 1)
            behind: Future[Any] = pool.submit(then)
            waiting_on_locks(database_url, 2)
            lock.rollback()
            ahead.result(timeout=10)
            behind.exception(timeout=10)
            return behind
    finally:
        blocker.dispose()


def test_authorization_queued_behind_a_settlement_sees_its_spend(database_url: str, rt: Runtime) -> None:
    spec = AgentSpec(id="capped", tier="custom", caps={"total": usd("1.00")})
    rt.ledger.create_agent(spec, "test")
    held = rt.ledger.authorize("capped", AuthorizeRequest(amount=usd("0.60")))
    second = race(
        database_url,
        "capped",
        lambda: rt.ledger.settle("capped", held["id"], SpendEvent(agent_id="capped", amount=usd("0.60"))),
        lambda: rt.ledger.authorize("capped", AuthorizeRequest(amount=usd("0.50"))),
    )
    # $0.60 settled + $0.50 asked > $1.00: the authorization must be refused.
    with pytest.raises(CapExceeded):
        second.result()


def test_authorization_queued_behind_a_halt_is_refused(database_url: str, rt: Runtime) -> None:
    """The same race with the agent's row: a halt committed while the authorization waited
    for the lock must be seen (the agent row is read after the lock, not joined into it)."""
    rt.ledger.create_agent(AgentSpec(id="haltme", tier="custom"), "test")
    second = race(
        database_url,
        "haltme",
        lambda: rt.ledger.halt("haltme", "test", "incident"),
        lambda: rt.ledger.authorize("haltme", AuthorizeRequest(amount=usd("0.10"))),
    )
    with pytest.raises(AgentHalted):
        second.result()
