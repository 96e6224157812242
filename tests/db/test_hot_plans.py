"""The authorization's counter reads are exact index lookups on SQLite: their cost must not
grow with how many hourly and per-task counter rows an agent has accumulated."""

from __future__ import annotations

import pytest

from spendwarden.db import hot
from spendwarden.ledger import authorize_sqlite
from spendwarden.runtime import Runtime

PARAMS = {
    "agent_id": "a",
    "hourly": "h",
    "daily": "d",
    "weekly": "w",
    "monthly": "m",
    "total": "t",
    "per_task": "",
}


def plan(runtime: Runtime, sql: str) -> list[str]:
    with runtime.store.read() as conn:
        return [str(r[-1]) for r in hot.raw(conn).execute("EXPLAIN QUERY PLAN " + sql, PARAMS).fetchall()]


def test_counter_reads_use_the_whole_key(runtime: Runtime) -> None:
    if runtime.store.is_postgres:
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL runs the same statements")
    with runtime.store.read() as conn:  # the SQLite fast path's read binds by position
        lean = [
            str(r[-1])
            for r in hot.raw(conn).execute(
                "EXPLAIN QUERY PLAN " + authorize_sqlite._READ, ("k", "h", "d", "w", "m", "t", "", "a")
            )
        ]
    for steps in (plan(runtime, hot._LOCK_WITH_COUNTERS), plan(runtime, hot._COUNTERS), lean):
        steps = [s for s in steps if "spend_counters" in s or " c_" in s]
        assert len(steps) == len(hot.COUNTER_SCOPES), steps
        assert all("agent_id=? AND scope=? AND period=?" in s for s in steps), steps


def test_many_agents_counters_are_index_lookups(runtime: Runtime) -> None:
    """The tick's dry run and the agents page read the window counters of hundreds of agents
    at once: each scope must be a (agent_id, scope, period) index search on both backends,
    never a scan of every agent's counter history (on PostgreSQL, joined beside the state
    rows, it was a sequential scan of spend_counters per scope)."""
    agents = [f"agent-{n:04d}" for n in range(2000)]
    with runtime.store.write() as conn:
        cur = hot.raw(conn).cursor()
        mark = "%s" if runtime.store.is_postgres else "?"
        cur.executemany(
            f"INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)"
            f" VALUES ({mark}, {mark}, {mark}, 1, 0, 1)",
            [(a, scope, f"{scope}-{k}") for a in agents for scope in ("hourly", "daily") for k in range(5)],
        )
        cur.execute("ANALYZE")
    chunk = agents[:100]
    with runtime.store.read() as conn:
        cur = hot.raw(conn).cursor()
        if runtime.store.is_postgres:
            sql = hot._sql(hot._many_sql(hot._MANY_COUNTERS, None), True)
            cur.execute("EXPLAIN " + sql, {**PARAMS, "agent_ids": chunk})
            steps = [str(r[0]) for r in cur.fetchall()]
            assert not [s for s in steps if "Seq Scan" in s], steps
            assert len([s for s in steps if "pk_spend_counters" in s]) == 5, steps
        else:
            steps = [s for s in plan(runtime, hot._MANY_COUNTERS) if "spend_counters" in s]
            assert len(steps) == 5 and all("agent_id=? AND scope=? AND period=?" in s for s in steps), steps


def test_many_agents_counters_read_each_agents_windows(runtime: Runtime) -> None:
    from spendwarden.clock import to_us
    from spendwarden.ledger.windows import window_keys_us
    from tests.factories import make_agent, spend

    for name in ("m1", "m2", "m3"):
        make_agent(runtime.ledger, name)
    runtime.ledger.record(spend("m1", "1.25"))
    runtime.ledger.record(spend("m2", "0.50"))
    now_us = to_us(runtime.ledger.core.clock.now())
    with runtime.store.read() as conn:
        found = hot.read_agents_with_counters(
            conn, runtime.store.is_postgres, ["m3", "m1", "ghost", "m2"], window_keys_us(now_us)
        )
    assert sorted(found) == ["m1", "m2", "m3"]
    scopes = ("hourly", "daily", "weekly", "monthly", "total")
    assert found["m1"][2] == dict.fromkeys(scopes, (1250000, 0))
    assert found["m2"][2] == dict.fromkeys(scopes, (500000, 0))
    assert found["m3"][2] == {}
    assert found["m1"][1]["id"] == "m1" and found["m1"][0]["seq"] == 1
