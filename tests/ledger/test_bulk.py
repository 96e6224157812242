"""The bulk write path: one transaction per agent, exact dedupe, every promise of ``append``."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any

import orjson
import pytest

from spendwarden.clock import FrozenClock
from spendwarden.db import queries as q
from spendwarden.ledger import bulk
from spendwarden.ledger.bulk import record_batch
from spendwarden.runtime import Runtime
from tests.factories import make_agent, spend


def test_batch_groups_by_agent_dedupes_and_chains(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "a")
    make_agent(ledger, "b")
    events = [
        spend("a", "0.10", external_id="x1", source="import"),
        spend("b", "0.20", external_id="x2", source="import"),
        spend("a", "0.30", external_id="x1", source="import"),  # repeat inside the batch
        spend("a", "0.40"),  # no external id: never a duplicate
        spend("ghost", "1.00", external_id="g1"),
    ]
    result = record_batch(ledger.core, events)
    assert sorted(result.accepted) == [0, 1, 3]
    assert result.duplicates == {2: "x1"}
    assert result.rejected[4].code == "unknown_agent"
    again = record_batch(ledger.core, events[:2])
    assert again.accepted == {} and again.duplicates == {0: "x1", 1: "x2"}
    assert ledger.verify()["ok"]
    assert ledger.view("a")["spend"]["daily"] == "0.500000"
    with ledger.store.read() as conn:
        assert q.get_agent(conn, "ghost") is None
        rows = q.recent_transactions(conn, "a", 10)
    assert [r["seq"] for r in rows] == [2, 1]


def test_ids_holding_a_separator_are_deduped_and_counted_exactly(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """External ids and task ids are free text: one holding the separator or the null
    marker that columns travel joined by on PostgreSQL (``db/joined.py``) sends that
    statement's columns as arrays, and nothing is lost, doubled or miscounted."""
    ledger = runtime.ledger
    make_agent(ledger, "odd")
    odd = ["a\x1fb", "\x1e", "", "plain"]
    events = [spend("odd", "0.10", external_id=ext, source="import", task_id=f"t{ext}") for ext in odd]
    for event in events:  # each alone: one odd value decides its statements' form
        assert list(record_batch(ledger.core, [event]).accepted) == [0]
    for event in events:  # redelivered alone, and all together
        assert record_batch(ledger.core, [event]).duplicates == {0: event.external_id}
    again = record_batch(ledger.core, events)
    assert again.accepted == {} and again.duplicates == dict(enumerate(odd))
    view = ledger.view("odd")
    assert view["spend"]["daily"] == "0.400000"
    with ledger.store.read() as conn:
        tasks = conn.exec_driver_sql(
            "SELECT period, amount FROM spend_counters WHERE agent_id = 'odd' AND scope = 'per_task'"
            " ORDER BY period"
        ).fetchall()
    assert sorted(tasks) == sorted((f"t{ext}", 100_000) for ext in odd)


def test_a_row_another_writer_recorded_meanwhile_fails_the_insert_and_the_retry_counts_it_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer records one of the batch's external ids between the dedupe probe and
    the insert (simulated: the first probe misses it). The insert fails on the unique index
    (on PostgreSQL inside the streamed COPY, after rows of other agents were sent), nothing
    of that attempt stays, and the retry counts that event a duplicate and records the rest
    once, on an unbroken chain."""
    ledger = runtime.ledger
    for agent_id in ("a", "b", "c"):
        make_agent(ledger, agent_id)
    record_batch(ledger.core, [spend("c", "0.10", external_id="raced", source="import")])
    real, probes = bulk._existing, []

    def first_probe_misses(*args: Any) -> list[str]:
        probes.append(args)
        return [] if len(probes) == 1 else real(*args)

    monkeypatch.setattr(bulk, "_existing", first_probe_misses)
    events = [
        *(spend("a", "0.01", external_id=f"a{i}", source="import") for i in range(300)),
        *(spend("b", "0.01", external_id=f"b{i}", source="import") for i in range(300)),
        spend("c", "0.20", external_id="raced", source="import"),
        spend("c", "0.30", external_id="fresh", source="import"),
    ]
    result = record_batch(ledger.core, events)
    assert len(probes) == 2  # the failed attempt, then the retry
    assert result.duplicates == {600: "raced"}
    assert len(result.accepted) == 601 and not result.rejected
    assert ledger.view("a")["spend"]["daily"] == ledger.view("b")["spend"]["daily"] == "3.000000"
    assert ledger.view("c")["spend"]["daily"] == "0.400000"
    with ledger.store.read() as conn:
        assert [r["seq"] for r in q.recent_transactions(conn, "c", 10)] == [2, 1]
        assert [r["seq"] for r in q.recent_transactions(conn, "a", 1)] == [300]
    assert ledger.verify()["ok"]


def test_breach_in_a_batch_halts_and_alerts(runtime: Runtime, clock: FrozenClock) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "capped", daily="1.00")
    events = [spend("capped", "0.60", occurred_at=clock.now() - timedelta(minutes=i)) for i in range(3)]
    result = record_batch(ledger.core, events)
    assert len(result.accepted) == 3  # the ledger tells the truth
    view = ledger.view("capped")
    assert view["status"] == "halted"
    with ledger.store.read() as conn:
        alerts = q.list_alerts(
            conn, filters={"agent_id": "capped", "rule": "cap_breach"}, before=None, limit=10
        )
    assert alerts and alerts[0]["rule"] == "cap_breach"


def test_hourly_cap_broken_in_an_earlier_hour_of_the_batch(runtime: Runtime, clock: FrozenClock) -> None:
    """A later row in another hour of the same day must not hide an earlier hour's breach."""
    ledger = runtime.ledger
    make_agent(ledger, "hourly", hourly="1.00")
    day = clock.now().replace(hour=3, minute=0)
    record_batch(
        ledger.core,
        [
            *(spend("hourly", "0.40", occurred_at=day + timedelta(minutes=m)) for m in (10, 20, 30)),
            spend("hourly", "0.90", occurred_at=day + timedelta(hours=2)),  # the largest, the last
        ],
    )
    assert ledger.view("hourly")["status"] == "halted"
    with ledger.store.read() as conn:
        found = {"agent_id": "hourly", "rule": "cap_breach"}
        alerts = q.list_alerts(conn, filters=found, before=None, limit=10)
    assert [orjson.loads(a["figures"])["cap"] for a in alerts] == ["hourly"]


def test_largest_row_trips_per_transaction_cap(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "single", per_transaction="1.00")
    record_batch(ledger.core, [spend("single", "5.00"), spend("single", "0.01")])
    assert ledger.view("single")["status"] == "halted"


def test_events_are_published_after_commit(runtime: Runtime) -> None:
    seen: list[str] = []
    runtime.ledger.core.publishers.append(lambda events: seen.extend(e.name for e in events))
    make_agent(runtime.ledger, "pub")
    record_batch(runtime.ledger.core, [spend("pub", "0.01"), spend("pub", "0.02")])
    assert seen.count("transaction.recorded") == 2


def test_many_agents_in_one_batch_observe_as_one_by_one(runtime: Runtime, clock: FrozenClock) -> None:
    """The bulk path hands observers every agent of the transaction at once (``on_batch``):
    rollups, task tool calls and detector state must come out exactly as recording the same
    events one at a time does. Agents ``b*`` take the batch, their twins ``o*`` the events
    one by one."""
    import random

    from sqlalchemy import select

    from spendwarden.db.tables.analytics import rollups
    from spendwarden.db.tables.core import agent_state
    from spendwarden.db.tables.signals import tasks

    rnd = random.Random(7)
    names = [f"{n:02d}" for n in range(24)]
    for i, n in enumerate(names):  # half with caps: breach checks and detectors read counters
        caps = {"daily": "12.00", "hourly": "6.00"} if i % 2 else {}
        make_agent(runtime.ledger, f"b{n}", **caps)
        make_agent(runtime.ledger, f"o{n}", **caps)
    plan = [
        (
            rnd.choice(names),
            f"{rnd.randrange(1, 900) / 100:.2f}",
            {
                "occurred_at": clock.now() - timedelta(minutes=rnd.randrange(0, 180)),
                "vendor": rnd.choice(["openai", "stripe"]),
                "tool": rnd.choice(["search", "browse"]),
                "task_id": rnd.choice([None, "t1", "t2"]),
                "status": rnd.choice(["settled", "settled", "failed"]),
            },
        )
        for _ in range(300)
    ]
    plan.sort(key=lambda p: p[2]["occurred_at"])  # one agent's events in time order on both paths
    result = record_batch(runtime.ledger.core, [spend(f"b{n}", amount, **f) for n, amount, f in plan])
    assert len(result.accepted) == len(plan)
    for n, amount, f in plan:
        runtime.ledger.record(spend(f"o{n}", amount, **f))

    def by_twin(table: Any, *columns: str) -> dict[str, set[tuple[Any, ...]]]:
        found: dict[str, set[tuple[Any, ...]]] = {}
        with runtime.store.read() as conn:
            for row in conn.execute(select(table)).mappings():
                kept = tuple(row[c] for c in columns)
                found.setdefault(row["agent_id"], set()).add(kept)
        return found

    cube = by_twin(rollups, *(c.name for c in rollups.columns if c.name not in ("agent_id",)))
    counted = by_twin(tasks, "task_id", "tool_calls", "started_at")
    states = by_twin(agent_state, "signal_state", "signal_watch_until")
    for i, n in enumerate(names):
        assert cube.get(f"b{n}") == cube.get(f"o{n}")
        assert counted.get(f"b{n}") == counted.get(f"o{n}")
        if i % 2:  # with caps, a batch's detectors see the counters as the whole batch left them
            continue
        (state,) = states[f"b{n}"]  # alert keys in the state name the agent
        assert {(str(state[0]).replace(f"b{n}", f"o{n}"), state[1])} == states[f"o{n}"]
    assert sum(len(v) for k, v in counted.items() if k.startswith("b")) > 0
    with runtime.store.read() as conn:
        alerts = q.list_alerts(conn, filters={}, before=None, limit=1000)
    opened: dict[str, list[tuple[str, str]]] = {}
    for alert in alerts:
        opened.setdefault(alert["agent_id"], []).append((alert["rule"], alert["status"]))
    halted = 0
    for n in names:
        breaches = [sorted(a for a in opened.get(f"{side}{n}", []) if a[0] == "cap_breach") for side in "bo"]
        assert breaches[0] == breaches[1]
        status = runtime.ledger.view(f"b{n}")["status"]
        assert status == runtime.ledger.view(f"o{n}")["status"]
        halted += status == "halted"
    assert halted > 0  # some caps broke: the checks ran on the prefetched counters


def test_prefetched_counters_answer_only_what_was_prefetched() -> None:
    from spendwarden.ledger.record import _known_counters

    keys = {"hourly": "h1", "daily": "d1", "per_task": ""}
    known: dict[tuple[str, str], tuple[int, int] | None] = {
        ("hourly", "h1"): (5, 1),
        ("daily", "d1"): None,  # prefetched: no counter row
        ("per_task", ""): None,
    }
    assert _known_counters(known, keys) == {"hourly": (5, 1)}
    assert _known_counters(known, {**keys, "weekly": "w1"}) is None  # not prefetched: read it
    assert _known_counters(None, keys) is None


def test_a_batch_runs_with_the_cyclic_collector_paused(runtime: Runtime) -> None:
    """Its rows live until it ends, so collections would only walk them again
    (``interpreter.paused_gc``); the collector is back once the batch is recorded."""
    make_agent(runtime.ledger, "bulk")
    seen: list[bool] = []
    runtime.ledger.core.publishers.append(lambda _events: seen.append(gc.isenabled()))
    was = gc.isenabled()
    gc.enable()
    try:
        result = record_batch(runtime.ledger.core, [spend("bulk", "0.01"), spend("bulk", "0.02")])
        assert len(result.accepted) == 2
        assert seen and not any(seen) and gc.isenabled()
    finally:
        if not was:
            gc.disable()
