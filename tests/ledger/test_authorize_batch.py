"""PostgreSQL: ``spendwarden_authorize_batch`` (migration 0010) answers each call as the call
alone would, in order, in one transaction; it never waits for a busy agent; a failed batch
writes nothing; and concurrent authorizations, in process and over HTTP, really share
batches and still never overspend."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import upgrade
from spendwarden.db.pg_authorize import (
    AsyncConnections,
    AuthorizeCall,
    DatabaseDecision,
    authorize_batch_in_database,
    authorize_batch_in_database_async,
    authorize_in_database,
    joined_batch_args,
)
from spendwarden.db.pg_batch import ThreadBatcher
from spendwarden.ledger import authorize_pg
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.keys import hash_secret
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_agent, spend
from tests.ledger.test_concurrency import racing_authorizations_never_overspend
from tests.ledger.twins import run_twin_workload

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _calls(
    runtime: Runtime, agent_ids: list[str], amount: str = "1", task_id: str | None = None
) -> list[AuthorizeCall]:
    """The calls the ledger would make for these authorizations (agents known)."""
    core = runtime.ledger.core
    req = AuthorizeRequest(amount=usd(amount), task_id=task_id)
    calls = []
    for agent_id in agent_ids:
        known = core.known_agents.get(agent_id)
        call = authorize_pg._prepare(core, agent_id, req, known)
        assert call is not None
        calls.append(call)
    return calls


def _outcomes(decisions: list[DatabaseDecision]) -> list[tuple[str, int | None, list[int] | None]]:
    return [(d.outcome, d.denied_cap, d.committed) for d in decisions]


def _known(runtime: Runtime, *agent_ids: str) -> None:
    for agent_id in agent_ids:  # one authorization each, so the runtime knows them
        runtime.ledger.authorize(agent_id, AuthorizeRequest(amount=usd("0.01")))


def test_a_batch_answers_each_call_as_the_call_alone_in_order(runtime: Runtime, clock: FrozenClock) -> None:
    """Twin agents get the same calls, one batch for the first of each pair, one by one for
    the second: two agents with different caps interleaved, tasks, and calls in the next
    hour (another hourly counter). Later calls for the same agent see the earlier calls'
    holds, and each call reads its own limits and its own counters."""
    ledger = runtime.ledger
    for twin in ("1", "2"):
        make_agent(ledger, "a" + twin, hourly="3.00", daily="10.00")
        make_agent(ledger, "b" + twin, daily="4.00", per_task="2.00")
        ledger.record(spend("a" + twin, "2.00"))  # this hour's counter: 2.00 spent
        ledger.record(spend("b" + twin, "1.00"))
    _known(runtime, "a1", "a2", "b1", "b2")
    plan = [  # (agent, amount, task, hours on)
        ("a", "0.50", None, 0),
        ("b", "0.75", "t1", 0),
        ("a", "0.50", None, 0),
        ("b", "0.75", "t1", 0),
        ("b", "0.75", "t1", 0),
        ("a", "0.50", None, 1),
        ("b", "0.75", "t2", 1),
        ("a", "2.00", None, 1),
        ("a", "0.50", None, 1),
        ("b", "0.74", None, 1),
        ("b", "0.75", None, 1),
    ]  # fmt: skip  (the tenth fills b's daily cap to the micro-dollar)
    start = clock.now()
    calls: dict[str, list[AuthorizeCall]] = {"1": [], "2": []}
    for agent, amount, task, hours in plan:
        clock.set(start + timedelta(hours=hours))
        for twin in ("1", "2"):
            calls[twin] += _calls(runtime, [agent + twin], amount, task)
    with runtime.ledger.store.autocommit() as dbapi:
        batched = authorize_batch_in_database(dbapi, calls["1"])
        alone = [authorize_in_database(dbapi, call) for call in calls["2"]]
    assert _outcomes(batched) == _outcomes(alone)
    assert [d.outcome for d in batched] == [
        "approved", "approved", "denied", "approved", "denied", "approved",
        "approved", "denied", "approved", "approved", "denied",
    ]  # fmt: skip
    assert ledger.view("a1")["held"] == ledger.view("a2")["held"] == "1.510000"
    assert ledger.view("b1")["held"] == ledger.view("b2")["held"] == "3.000000"


def test_the_twin_workload_through_the_batch_function(
    twins: tuple[Runtime, Runtime], clock: FrozenClock
) -> None:
    """Every call of the fast runtime goes through ``spendwarden_authorize_batch`` (a batch
    of one): the 400 twin requests still answer and count as on the locked path."""
    fast, locked = twins
    used: list[int] = []

    def through_the_batch(call: AuthorizeCall) -> DatabaseDecision:
        with fast.ledger.store.autocommit() as dbapi:
            (decision,) = authorize_batch_in_database(dbapi, [call])
        used.append(1)
        return decision

    fast.ledger.core.decide_in_database = through_the_batch
    run_twin_workload(fast, locked, clock)
    assert len(used) > 100


def test_a_batch_never_waits_for_a_busy_agent(runtime: Runtime, database_url: str) -> None:
    """Another transaction holds one agent: the batch answers ``busy`` for it at once,
    writing nothing for it, and decides the others; the batcher then makes that call alone,
    which waits for the lock like every writer and is approved once it is free."""
    for name in ("busy", "free"):
        make_agent(runtime.ledger, name, daily="5.00")
    _known(runtime, "busy", "free")
    other = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"))
    other.execute("SELECT 1 FROM agent_state WHERE agent_id = 'busy' FOR UPDATE")
    try:
        with runtime.ledger.store.autocommit() as dbapi:
            dbapi.execute("SET lock_timeout = '5s'")  # a batch that waited would fail, not hang
            try:
                started = time.monotonic()
                decisions = authorize_batch_in_database(dbapi, _calls(runtime, ["busy", "free", "busy"]))
                assert time.monotonic() - started < 2
            finally:
                dbapi.execute("RESET lock_timeout")
        assert [d.outcome for d in decisions] == ["busy", "approved", "busy"]
        assert runtime.ledger.view("busy")["held"] == "0.010000"

        batcher = runtime.ledger.core.decide_in_database
        assert isinstance(batcher, ThreadBatcher)
        released = threading.Timer(0.3, other.rollback)
        released.start()
        calls = _calls(runtime, ["busy", "free"])
        with ThreadPoolExecutor(2) as pool:  # together, so that they may share a batch
            answered = list(pool.map(batcher, calls))
        released.join()
        assert [d.outcome for d in answered] == ["approved", "approved"]
    finally:
        other.close()
    assert runtime.ledger.view("busy")["held"] == "1.010000"


def test_a_failed_batch_writes_nothing_and_its_calls_are_made_alone(runtime: Runtime) -> None:
    """Two calls with one hold id: the batch fails on the second insert and rolls back the
    first; made alone, the first is approved and the second fails on its own."""
    make_agent(runtime.ledger, "bot", daily="5.00")
    _known(runtime, "bot")
    first, second = _calls(runtime, ["bot", "bot"])
    second = AuthorizeCall(second.caps_text, second.policy_text, second.limits, second.periods,
                           second.hold | {"id": first.hold["id"]})  # fmt: skip
    with pytest.raises(psycopg.errors.UniqueViolation), runtime.ledger.store.autocommit() as dbapi:
        authorize_batch_in_database(dbapi, [first, second])
    assert runtime.ledger.view("bot")["held"] == "0.010000"

    with runtime.ledger.store.autocommit() as dbapi:  # as the batcher then makes them
        assert authorize_in_database(dbapi, first).outcome == "approved"
        with pytest.raises(psycopg.errors.UniqueViolation):
            authorize_in_database(dbapi, second)
    assert runtime.ledger.view("bot")["held"] == "1.010000"


def test_racing_authorizations_share_batches_and_never_overspend(runtime: Runtime) -> None:
    """``test_concurrency``'s race (1,000 authorizations from 24 threads for one cap): exactly
    the 250 that fit are approved, and batches of many calls were made."""
    batcher = runtime.ledger.core.decide_in_database
    assert isinstance(batcher, ThreadBatcher)
    racing_authorizations_never_overspend(runtime)
    assert batcher.batches > 0 and batcher.batched > batcher.batches


def test_a_batch_size_of_one_makes_every_call_alone(database_url: str, clock: FrozenClock) -> None:
    rt = build_runtime(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN, authorize_batch_size=1),
        clock=clock,
        migrate=False,
    )
    try:
        assert not isinstance(rt.ledger.core.decide_in_database, ThreadBatcher)
        make_agent(rt.ledger, "bot", daily="5.00")
        rt.ledger.authorize("bot", AuthorizeRequest(amount=usd("1")))
        assert rt.ledger.view("bot")["held"] == "1.000000"
    finally:
        rt.close()


def test_concurrent_requests_over_http_share_batches(runtime: Runtime) -> None:
    """200 concurrent ``POST /v1/authorize`` on the event loop, for 20 agents with room for
    five each: batches were made, and exactly 100 approved."""
    keys = [make_agent(runtime.ledger, f"web{i}", daily="5.00") for i in range(20)]
    app = create_app(runtime)

    async def main() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

                async def one(i: int) -> int:
                    r = await client.post(
                        "/v1/authorize",
                        json={"amount_usd": "1"},
                        headers={"Authorization": f"Bearer {keys[i % 20]}"},
                    )
                    return r.status_code

                statuses = await asyncio.gather(*(one(i) for i in range(200)))
                batcher = app.state.pg_connections.batcher
                assert batcher is not None and batcher.batches > 0 and batcher.batched > batcher.batches
                return statuses

    statuses = asyncio.run(main())
    assert statuses.count(200) == 100 and statuses.count(402) == 100
    assert all(runtime.ledger.view(f"web{i}")["held"] == "5.000000" for i in range(20))


def test_migration_0010_installs_and_removes_the_batch_function(database_url: str) -> None:
    engine = make_null_pool_engine(database_url)
    count = "SELECT count(*) FROM pg_proc WHERE proname = 'spendwarden_authorize_batch'"

    def installed() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(count).scalar_one())

    from alembic import command

    from spendwarden.db.migrate import alembic_config

    try:
        assert installed() == 1
        with engine.begin() as conn:
            cfg = alembic_config(database_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009")
        assert installed() == 0
        upgrade(database_url)
        assert installed() == 1
    finally:
        engine.dispose()


def test_migration_0011_replaces_the_batch_function_and_back(database_url: str) -> None:
    """0011 makes the batch set-based (its reads in one statement, planned once); its
    downgrade puts 0010's per-call function back in place: the same function, grants kept."""
    engine = make_null_pool_engine(database_url)
    source = "SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'spendwarden_authorize_batch'"
    identity = "SELECT oid, proacl::text FROM pg_proc WHERE proname = 'spendwarden_authorize_batch'"
    with engine.begin() as conn:
        conn.exec_driver_sql("GRANT EXECUTE ON FUNCTION spendwarden_authorize_batch TO pg_monitor")
        granted = conn.exec_driver_sql(identity).one()
    assert "pg_monitor=X" in granted[1]

    def set_based() -> bool:
        with engine.connect() as conn:
            text, config = conn.exec_driver_sql(source).one()
        return "v_approved" in text and config == ["plan_cache_mode=force_generic_plan"]

    from alembic import command

    from spendwarden.db.migrate import alembic_config

    try:
        assert set_based()
        with engine.begin() as conn:
            cfg = alembic_config(database_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010")
        assert not set_based()
        with engine.connect() as conn:
            assert conn.exec_driver_sql(identity).one() == granted
        upgrade(database_url)
        assert set_based()
    finally:
        engine.dispose()


# One call of a generated batch: (agent, amount in cents, task, what the caller knows, key,
# minutes after the call before).
BatchCall = tuple[str, int, str | None, str, str, int]
batch_calls = st.lists(
    st.tuples(
        st.sampled_from(["capped", "tasked", "halted", "ghost"]),
        st.integers(min_value=1, max_value=160),
        st.sampled_from([None, "t1", "t2"]),
        st.sampled_from(["texts", "nothing", "stale"]),
        st.sampled_from(["none", "right", "wrong"]),
        st.sampled_from([0, 0, 1, 25]),
    ),
    min_size=1,
    max_size=24,
)
_example = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=batch_calls)
def test_any_batch_decides_and_writes_as_its_calls_one_by_one(
    runtime: Runtime, clock: FrozenClock, plan: list[BatchCall]
) -> None:
    """Twin fleets get the same calls: one fleet as one batch, the other one call at a time
    through ``spendwarden_authorize``. Agents with window caps, with a task cap and a policy,
    halted, and one that does not exist; callers that pass the agent's texts, nothing (first
    sight) or texts that are no longer the agent's; the agent's key, another, or none. Every
    call answers the same (a batch's ``busy`` for the agent that does not exist is the
    ``missing`` of the call alone, which the batcher then makes), and the fleets' holds,
    states and task counters are the same. Calls are minutes apart, so a batch can span an
    hour (each call reads its own period's counters) and an agent's state keeps the time of
    its last approval."""
    ledger, core = runtime.ledger, runtime.ledger.core
    n = next(_example)
    keys: dict[str, str] = {}
    for twin in ("1", "2"):
        prefix = f"x{n}-{twin}-"
        keys[prefix + "capped"] = make_agent(ledger, prefix + "capped", hourly="3.00", daily="5.00")
        ledger.create_agent(
            AgentSpec(
                id=prefix + "tasked",
                tier="custom",
                caps={"per_task": usd("1.00"), "daily": usd("2.00")},
                policy={"blocked_vendors": ["shady"]},
            ),
            "test",
        )
        keys[prefix + "tasked"] = ledger.issue_key(prefix + "tasked", "test")[1]
        keys[prefix + "halted"] = make_agent(ledger, prefix + "halted", daily="5.00")
        ledger.record(spend(prefix + "capped", "2.00"))  # this hour's counter
        _known(runtime, prefix + "capped", prefix + "tasked", prefix + "halted")
        ledger.halt(prefix + "halted", "test", "drill")
    calls: dict[str, list[AuthorizeCall]] = {"1": [], "2": []}
    for agent, cents, task, knows, key, minutes in plan:
        clock.advance(timedelta(minutes=minutes))
        for twin in ("1", "2"):
            agent_id = f"x{n}-{twin}-{agent}"
            req = AuthorizeRequest(amount=cents * 10_000, vendor="openai", task_id=task)
            known = core.known_agents.get(agent_id) if knows != "nothing" else None
            key_hash = {
                "none": None,
                "right": hash_secret(keys.get(agent_id, "no key")),
                "wrong": hash_secret("someone else's key"),
            }[key]
            if known is None and knows != "nothing":  # the ghost: texts it never had
                known = core.known_agents.put(agent_id, '{"daily": 1}', "{}")
            call = authorize_pg._prepare(core, agent_id, req, known, key_hash)
            assert call is not None
            if knows == "stale":
                call = dataclasses.replace(call, caps_text='{"daily": 7}')
            calls[twin].append(call)
    with runtime.ledger.store.autocommit() as dbapi:
        batched = authorize_batch_in_database(dbapi, calls["1"])
        alone = [authorize_in_database(dbapi, call) for call in calls["2"]]
    as_alone = [
        ("missing", None, None, None, None) if d.outcome == "busy" else
        (d.outcome, d.denied_cap, d.committed, d.caps_text, d.policy_text)
        for d in batched
    ]  # fmt: skip
    assert as_alone == [(d.outcome, d.denied_cap, d.committed, d.caps_text, d.policy_text) for d in alone]
    busy = [call.hold["agent_id"] for d, call in zip(batched, calls["1"], strict=True) if d.outcome == "busy"]
    assert all(agent_id.endswith("ghost") for agent_id in busy)
    assert _written(runtime, f"x{n}-1-") == _written(runtime, f"x{n}-2-")


def _written(runtime: Runtime, prefix: str) -> tuple[list[Any], ...]:
    """A fleet's holds, states and task counters, with its agents' prefix taken off."""
    with runtime.ledger.store.autocommit() as dbapi:
        holds = dbapi.execute(
            "SELECT substr(agent_id, %s), amount, status, vendor, task_id, created_at, expires_at"
            " FROM holds WHERE agent_id LIKE %s ORDER BY created_at, agent_id, task_id, amount",
            (len(prefix) + 1, prefix + "%"),
        ).fetchall()
        states = dbapi.execute(
            "SELECT substr(agent_id, %s), held, updated_at FROM agent_state WHERE agent_id LIKE %s"
            " ORDER BY agent_id",
            (len(prefix) + 1, prefix + "%"),
        ).fetchall()
        tasks = dbapi.execute(
            "SELECT substr(agent_id, %s), period, amount, held, count FROM spend_counters"
            " WHERE agent_id LIKE %s AND scope = 'per_task' ORDER BY agent_id, period",
            (len(prefix) + 1, prefix + "%"),
        ).fetchall()
    return holds, states, tasks


def test_a_batch_whose_texts_hold_a_separator_is_written_exactly(runtime: Runtime) -> None:
    """Vendors are free text: one holding the separator, the null marker or nothing makes
    the batch go as arrays, and each hold keeps its vendor as given, on both drivers."""
    ledger = runtime.ledger
    for i in range(6):
        make_agent(ledger, f"odd{i}", daily="10.00")
    vendors = ["a\x1fb", "\x1e", "", "plain", "x\x1e\x1fy", "ok"]

    def batch(first: int) -> list[AuthorizeCall]:
        calls = []
        for i in range(first, first + 3):
            call = authorize_pg._prepare(
                ledger.core, f"odd{i}", AuthorizeRequest(amount=usd("0.10"), vendor=vendors[i]),
                ledger.core.known_agents.get(f"odd{i}"),
            )  # fmt: skip
            assert call is not None
            calls.append(call)
        assert joined_batch_args(calls) is None
        return calls

    with ledger.store.autocommit() as dbapi:
        blocking = authorize_batch_in_database(dbapi, batch(0))

    async def on_the_loop() -> list[DatabaseDecision]:
        connections = AsyncConnections(ledger.store.url, 2)
        await connections.open()
        try:
            async with connections.connection() as conn:
                return await authorize_batch_in_database_async(conn, batch(3))
        finally:
            await connections.close()

    awaited = asyncio.run(on_the_loop())
    assert [d.outcome for d in blocking + awaited] == ["approved"] * 6
    with ledger.store.autocommit() as dbapi:
        written = dbapi.execute(
            "SELECT agent_id, vendor FROM holds WHERE agent_id LIKE 'odd%' ORDER BY agent_id"
        )
        assert [vendor for _agent, vendor in written] == vendors
