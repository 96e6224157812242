"""Issue 3's scenario through the real ledger: 20 agents with a week of normal history, then
a runaway loop at 02:00, a retry storm, a rail shift to x402, an A→B→C→A payment loop and an
off-hours burst. Each is caught by its rule; the agents that behaved raise nothing.

History goes in hour by hour through the bulk write path (observers see each batch in
order), and the sweeper ticks on the frozen clock after every hour."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.db import queries as q
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.bulk import record_batch
from spendwarden.runtime import Runtime

MONDAY = datetime(2026, 6, 1, tzinfo=UTC)
WEEK = MONDAY + timedelta(days=7)
OFFICE_HOURS = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}
TOOLS = (
    (None, None),
    ("search", "https://api.search.example/v1"),
    ("browser", "https://browser.example/run"),
)
Event = tuple[datetime, str, dict[str, Any]]


def name(i: int) -> str:
    return f"agent-{i:02d}"


def office(i: int) -> bool:
    return i % 2 == 0


def normal(i: int, start: datetime, days: int) -> list[Event]:
    """Steady calls with some noise: office agents 09-17 on weekdays, the others round the clock."""
    rng = random.Random(i)
    every = 240 if office(i) else 480  # seconds between calls
    base = 20_000 + 5_000 * i
    out: list[Event] = []
    for d in range(days):
        day = start + timedelta(days=d)
        if office(i) and day.weekday() >= 5:
            continue
        begin, hours = (day + timedelta(hours=9), 8) if office(i) else (day, 24)
        for c in range(hours * 3600 // every):
            at = begin + timedelta(seconds=c * every + rng.randint(0, 30))
            tool, endpoint = TOOLS[c % 4 % 3]
            fields = {
                "amount": int(base * rng.uniform(0.8, 1.2)),
                "rail": "stripe" if c % 5 == 0 else "llm_api",
                "vendor": ("openai", "anthropic")[c % 2],
                "model": "gpt-4o",
                "tool": tool,
                "endpoint": endpoint,
                "task_id": f"{at:%m%d%H}{c // 5}",
                "attempt": 2 if c % 50 == 7 else 1,
                "status": "failed" if c % 100 == 3 else "settled",
            }
            out.append((at, name(i), fields))
    return out


def burst(i: int, at: datetime, minutes: float, per_min: float, **fields: Any) -> list[Event]:
    step = 60 / per_min
    return [(at + timedelta(seconds=k * step), name(i), dict(fields)) for k in range(int(minutes * per_min))]


def trouble() -> list[Event]:
    search = {
        "tool": "search",
        "endpoint": "https://api.search.example/v1",
        "model": "gpt-4o",
        "vendor": "openai",
    }
    events = [
        *burst(3, WEEK + timedelta(hours=2), 5, 60, amount=40_000, **search),
        *burst(
            5, WEEK + timedelta(hours=3), 20, 3, amount=60_000, attempt=3, status="failed", vendor="openai"
        ),
        *burst(7, WEEK + timedelta(hours=4), 60, 0.5, amount=55_000, rail="x402", vendor="openai"),
        *burst(14, WEEK + timedelta(hours=23), 10, 1, amount=60_000, vendor="openai"),
    ]
    for payer, payee, minute in ((9, 11, 0), (11, 13, 10), (13, 9, 20)):
        at = WEEK + timedelta(hours=5, minutes=minute, seconds=30)
        transfer = {
            "amount": 40_000,
            "kind": "transfer",
            "rail": "internal",
            "counterparty_agent_id": name(payee),
        }
        events.append((at, name(payer), transfer))
    return events


def play(runtime: Runtime, events: list[Event], start: datetime, hours: int) -> None:
    clock = runtime.clock
    assert isinstance(clock, FrozenClock)
    by_hour: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_hour[int((event[0] - start).total_seconds() // 3600)].append(event)
    for h in range(hours):
        clock.set(start + timedelta(hours=h + 1))
        batch = sorted(by_hour.get(h, []), key=lambda e: (e[0], e[1]))
        spends = [SpendEvent(agent_id=a, occurred_at=at, source="import", **f) for at, a, f in batch]
        result = record_batch(runtime.ledger.core, spends)
        assert not result.rejected, result.rejected
        runtime.sweep()


def rules_by_agent(runtime: Runtime) -> dict[str, set[str]]:
    with runtime.store.read() as conn:
        rows = q.list_alerts(conn, filters={}, before=None, limit=10_000)
    out: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        out[row["agent_id"]].add(row["rule"])
    return dict(out)


def run_scenario(runtime: Runtime) -> None:
    for i in range(20):
        spec = AgentSpec(
            id=name(i),
            tier="production",
            caps={"monthly": 10_000_000_000},
            halt_rules={"hourly_vs_rolling_avg": None},  # the tier's halt rule is not under test here
            active_hours=OFFICE_HOURS if office(i) else None,
        )
        runtime.ledger.create_agent(spec, "test")
    week = [e for i in range(20) for e in normal(i, MONDAY, 7)]
    play(runtime, week, MONDAY, 7 * 24)
    assert rules_by_agent(runtime) == {}, "a normal week must raise nothing"

    day = [e for i in range(20) for e in normal(i, WEEK, 1)] + trouble()
    play(runtime, day, WEEK, 24)
    found = rules_by_agent(runtime)
    assert "runaway_loop" in found[name(3)]
    assert {"retry_cost", "failure_rate"} <= found[name(5)]
    assert "rail_shift" in found[name(7)]
    assert "payment_loop" in found[name(13)]
    assert found[name(14)] == {"off_hours"}
    with runtime.store.read() as conn:
        (loop,) = q.list_alerts(conn, filters={"rule": "payment_loop"}, before=None, limit=10)
        (runaway,) = q.list_alerts(
            conn, filters={"rule": "runaway_loop", "agent_id": name(3)}, before=None, limit=10
        )
    assert '"cycle":["agent-13","agent-09","agent-11","agent-13"]' in loop["figures"]
    assert runaway["first_seen_at"] // 3_600_000_000 % 24 == 2  # caught at 02:00
    assert runaway["status"] == "resolved" and runaway["occurrences"] == 1  # one alert, cleared after
    troubled = {name(i) for i in (3, 5, 7, 13, 14)}
    clean = {a: r for a, r in found.items() if a not in troubled}
    assert clean == {}, clean


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_scenario_on_sqlite(runtime: Runtime) -> None:
    run_scenario(runtime)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_scenario_on_postgres(runtime: Runtime) -> None:
    run_scenario(runtime)
