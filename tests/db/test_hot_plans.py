"""The authorization's counter reads are exact index lookups on SQLite: their cost must not
grow with how many hourly and per-task counter rows an agent has accumulated."""

from __future__ import annotations

import pytest

from spendwarden.db import hot
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
    for sql in (hot._LOCK_WITH_COUNTERS, hot._COUNTERS):
        steps = [s for s in plan(runtime, sql) if "spend_counters" in s or " c_" in s]
        assert len(steps) == len(hot.COUNTER_SCOPES), steps
        assert all("agent_id=? AND scope=? AND period=?" in s for s in steps), steps
