"""Past window counters: pruned after the retention, rebuilt exactly when a spend needs one.

The oracle is the ledger itself: whatever was pruned, every counter that exists equals the
net spend and row count of the ledger rows in its window, and a late spend into a pruned
window breaks a cap or trips a halt rule exactly as it would have with nothing pruned.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from spendwarden.cli import app
from spendwarden.clock import FrozenClock, to_us
from spendwarden.db import past_counters
from spendwarden.db.tables.core import alerts, spend_counters
from spendwarden.errors import CapExceeded
from spendwarden.events import SpendEvent
from spendwarden.ledger import retention
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.bulk import record_batch
from spendwarden.ledger.horizon import first_kept, is_kept
from spendwarden.ledger.record import counter_delta
from spendwarden.ledger.retention import CounterPruner, prune_counters
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.windows import WINDOW_CAPS, window_bounds, window_keys
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.analytics.helpers import ledger_rows
from tests.conftest import START

NOW = START  # Monday 2026-11-23 12:00 UTC
Counters = dict[tuple[str, str, str], tuple[int, int, int]]


def counters(runtime: Runtime) -> Counters:
    with runtime.store.read() as conn:
        return {
            (r.agent_id, r.scope, r.period): (int(r.amount), int(r.held), int(r.count))
            for r in conn.execute(select(spend_counters))
        }


def oracle(runtime: Runtime, agent_id: str, scope: str, period: str) -> tuple[int, int]:
    """Net spend and rows of the ledger in one counter's window (or task)."""
    amount = count = 0
    for r in ledger_rows(runtime):
        if r["agent_id"] != agent_id:
            continue
        if scope == "per_task":
            inside = r["task_id"] == period
        else:
            inside = window_keys(datetime.fromtimestamp(r["occurred_at"] / 1e6, tz=UTC))[scope] == period
        if inside:
            amount += counter_delta(r["status"], r["amount"])
            count += 1
    return amount, count


def assert_exact(runtime: Runtime) -> None:
    for (agent_id, scope, period), (amount, _held, count) in counters(runtime).items():
        assert (amount, count) == oracle(runtime, agent_id, scope, period), (agent_id, scope, period)


def agent(runtime: Runtime, agent_id: str, **fields: Any) -> None:
    runtime.ledger.create_agent(AgentSpec(id=agent_id, tier="custom", **fields), "test")


def spend(agent_id: str, amount: str, at: datetime, **fields: Any) -> SpendEvent:
    return SpendEvent(agent_id=agent_id, amount=usd(amount), occurred_at=at, **fields)


def record(runtime: Runtime, events: list[SpendEvent], bulk: bool) -> None:
    if bulk:
        result = record_batch(runtime.ledger.core, events)
        assert not result.rejected, result.rejected
    else:
        for e in events:
            runtime.ledger.record(e)


def prune(runtime: Runtime, days: int = 3) -> int:
    return prune_counters(runtime.store, to_us(NOW), days)[1]


def open_alerts(runtime: Runtime, agent_id: str) -> list[tuple[str, str]]:
    """(rule, cap or '') of the agent's breach and auto-halt alerts (detectors raise others)."""
    with runtime.store.read() as conn:
        rows = conn.execute(
            select(alerts.c.rule, alerts.c.figures).where(
                alerts.c.agent_id == agent_id, alerts.c.rule.in_(["cap_breach", "auto_halt"])
            )
        )
        return sorted((r.rule, json.loads(r.figures or "{}").get("cap", "")) for r in rows)


def status(runtime: Runtime, agent_id: str) -> str:
    return str(runtime.ledger.view(agent_id)["status"])


def test_prune_deletes_only_closed_windows_past_the_retention(runtime: Runtime) -> None:
    agent(runtime, "bot")
    history = [
        spend("bot", "1.25", NOW - timedelta(days=d, hours=h), task_id=f"t{d % 3}", status=st)
        for d in range(0, 40, 2)
        for h, st in ((1, "settled"), (6, "refunded"), (9, "failed"))
    ]
    record(runtime, history, bulk=False)
    before = counters(runtime)
    first = first_kept(to_us(NOW), 3)
    assert first == {
        "hourly": "2026-11-20T12",
        "daily": "2026-11-20",
        "weekly": "W2026-11-16",
        "monthly": "2026-11",
    }
    kept = {k: v for k, v in before.items() if is_kept(k[1], k[2], first)}
    assert {k[1] for k in set(before) - set(kept)} == {"hourly", "daily", "weekly", "monthly"}

    assert prune(runtime) == len(before) - len(kept)

    assert counters(runtime) == kept
    assert {k for k in kept if k[1] in ("total", "per_task")} == {
        k for k in before if k[1] in ("total", "per_task")
    }
    assert prune(runtime) == 0  # a second pass finds nothing
    assert_exact(runtime)


@pytest.mark.parametrize("bulk", [False, True], ids=["one_by_one", "bulk"])
def test_a_late_spend_into_a_pruned_window_breaks_the_cap_it_would_have(runtime: Runtime, bulk: bool) -> None:
    agent(runtime, "bot", caps={"daily": usd("10"), "weekly": usd("100")})
    agent(runtime, "other")
    day = NOW - timedelta(days=10)  # Friday 13th: its windows closed a week ago
    record(runtime, [spend("bot", "4", day.replace(hour=9)), spend("bot", "4", day.replace(hour=10))], bulk)
    record(runtime, [spend("other", "2", day.replace(hour=9))], bulk)
    assert prune(runtime) > 0
    daily = ("bot", "daily", day.strftime("%Y-%m-%d"))
    assert daily not in counters(runtime)
    assert status(runtime, "bot") == "active"

    late = [spend("bot", "3", day.replace(hour=18), task_id="late"), spend("other", "1", day.replace(hour=9))]
    record(runtime, late, bulk)

    found = counters(runtime)
    assert found[daily][::2] == (usd("11"), 3)  # 4 + 4 rebuilt from the rollups, then the late 3
    assert found[("other", "hourly", day.strftime("%Y-%m-%dT09"))][::2] == (usd("3"), 2)
    assert_exact(runtime)
    assert open_alerts(runtime, "bot") == [("cap_breach", "daily")]
    assert status(runtime, "bot") == "halted"


def test_halt_rules_look_back_on_pruned_hours_and_days(runtime: Runtime) -> None:
    hourly = {
        "hourly_vs_rolling_avg": 3.0,
        "rolling_hours": 72,
        "min_active_hours": 3,
        "min_hourly_baseline": 1,
    }
    agent(runtime, "hourly", halt_rules=hourly)
    agent(runtime, "daily", halt_rules={"daily_vs_prior_day": 1.5})
    busy = [NOW - timedelta(hours=h) for h in range(55, 61)]  # closed more than two days ago
    record(runtime, [spend("hourly", "1", at) for at in busy], bulk=False)
    prior = NOW - timedelta(days=11)
    record(runtime, [spend("daily", "10", prior)], bulk=False)
    assert prune(runtime, days=2) > 0
    assert not [k for k in counters(runtime) if k[1] == "hourly" and k[0] == "hourly"]

    record(runtime, [spend("hourly", "5", NOW)], bulk=False)  # 5 > 3 x the 1.00 average of six hours
    record(runtime, [spend("daily", "20", prior + timedelta(days=1))], bulk=False)  # late: 20 > 1.5 x 10

    assert open_alerts(runtime, "hourly") == [("auto_halt", "")]
    assert open_alerts(runtime, "daily") == [("auto_halt", "")]
    assert status(runtime, "hourly") == status(runtime, "daily") == "halted"
    assert_exact(runtime)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counters_stay_exact_whatever_is_pruned_in_between(runtime: Runtime, seed: int) -> None:
    """Random history recorded out of order, one by one and in bulk, with prunes of random
    retention in between: every counter left equals the ledger, every cap check saw it."""
    rnd = random.Random(seed)
    names = ["a", "b", "c"]
    for name in names:
        agent(runtime, name, caps={"daily": usd("15"), "monthly": usd("400")})
    events = [
        spend(
            rnd.choice(names),
            f"{rnd.randrange(1, 2000) / 100:.2f}",
            NOW - timedelta(minutes=rnd.randrange(0, 45 * 1440)),
            status=rnd.choice(["settled", "settled", "settled", "refunded", "failed"]),
            task_id=rnd.choice([None, "t1", "t2"]),
        )
        for _ in range(90)
    ]
    for start in range(0, 90, 15):
        record(runtime, events[start : start + 15], bulk=rnd.random() < 0.5)
        prune(runtime, days=rnd.randrange(2, 12))
        assert_exact(runtime)
    breaches = {e.agent_id for e in events} & {n for n in names if open_alerts(runtime, n)}
    assert breaches  # the history is dense enough to break caps: the check ran on rebuilt sums


def _old_counters(runtime: Runtime, n: int) -> None:
    for i in range(n):
        agent(runtime, f"bot{i}")
    record(runtime, [spend(f"bot{i}", "1", NOW - timedelta(days=9)) for i in range(n)], bulk=True)


def test_the_periodic_job_prunes_a_slice_per_tick_and_a_pass_an_hour(
    runtime: Runtime, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "ledger.counters" in {name for name, _job in runtime.periodic}
    monkeypatch.setattr(retention, "CHUNK", 2)
    _old_counters(runtime, 5)
    job = CounterPruner(runtime.store, clock, 3, budget_seconds=0)

    def pruned_agents() -> set[str]:
        left = {k[0] for k in counters(runtime) if k[1] == "daily"}
        return {f"bot{i}" for i in range(5)} - left

    assert [job() for _ in range(3)] == [6, 6, 3]  # hour, day and week of each agent (the month is on)
    assert pruned_agents() == {f"bot{i}" for i in range(5)}
    assert job() == 0 and job.cursor is None  # the pass ends on an empty slice
    record(runtime, [spend("bot0", "1", NOW - timedelta(days=20))], bulk=False)
    assert job() == 0  # the next pass is an hour away
    clock.advance(timedelta(hours=1))
    assert job() == 3 and job.deleted == 18
    assert_exact(runtime)


def test_the_sweeper_runs_it(runtime: Runtime) -> None:
    _old_counters(runtime, 2)
    assert runtime.sweep()
    assert not [k for k in counters(runtime) if k[1] in ("hourly", "daily", "weekly")]


@pytest.fixture
def other_connection(runtime: Runtime) -> Iterator[psycopg.Connection[Any]]:
    if not runtime.store.is_postgres:
        pytest.skip("row locks held by another transaction are PostgreSQL's; SQLite has one writer")
    with psycopg.connect(runtime.settings.database_url) as conn:
        yield conn


def test_an_agent_busy_in_another_transaction_is_left_for_the_next_pass(
    runtime: Runtime, other_connection: psycopg.Connection[Any]
) -> None:
    _old_counters(runtime, 3)
    other_connection.execute("SELECT 1 FROM agent_state WHERE agent_id = 'bot1' FOR UPDATE")  # a spend
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(prune(runtime)))
    worker.start()
    worker.join(timeout=30)  # the prune never waits for a writer
    assert done == [6]
    assert {k[0] for k in counters(runtime) if k[1] == "daily"} == {"bot1"}
    other_connection.rollback()
    assert prune(runtime) == 3


@pytest.mark.parametrize("bulk", [False, True], ids=["one_by_one", "bulk"])
def test_a_prune_in_the_middle_of_a_late_spend_leaves_no_partial_counter(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """A prune runs right after the late spend has made sure of its window counters and
    before it adds to them: it must neither delete a counter the spend is about to add to
    nor wait for the spend (PostgreSQL: it skips the agent the spend holds, for the next
    pass; SQLite: it waits for the one write lock)."""
    agent(runtime, "bot")
    old = NOW - timedelta(days=9)
    record(runtime, [spend("bot", "4", old)], bulk=False)
    original = past_counters.rebuild_missing
    pruners: list[threading.Thread] = []

    def then_prune(*args: Any) -> int:
        rebuilt = original(*args)
        pruner = threading.Thread(target=prune, args=(runtime,))
        pruner.start()
        pruner.join(timeout=0.5)  # returns at once only if the prune did not wait for the spend
        pruners.append(pruner)
        return rebuilt

    monkeypatch.setattr(past_counters, "rebuild_missing", then_prune)
    record(runtime, [spend("bot", "1", old)], bulk=bulk)
    for pruner in pruners:
        pruner.join(timeout=30)
    assert len(pruners) == 1 and not pruners[0].is_alive()
    assert_exact(runtime)
    monkeypatch.undo()
    record(runtime, [spend("bot", "2", old)], bulk=bulk)
    daily = ("bot", "daily", old.strftime("%Y-%m-%d"))
    assert counters(runtime)[daily][::2] == oracle(runtime, *daily) == (usd("7"), 3)
    assert_exact(runtime)


def test_the_prune_command_prunes_counters_too(runtime: Runtime) -> None:
    agent(runtime, "bot")
    now = datetime.now(UTC)
    record(runtime, [spend("bot", "1", now - timedelta(days=9)), spend("bot", "1", now)], bulk=False)
    first = first_kept(to_us(now), 3)
    expected = sum(not is_kept(scope, period, first) for _a, scope, period in counters(runtime))
    assert expected >= 2  # the hour and the day nine days ago at least
    out = CliRunner().invoke(app, ["prune", "--older-than", "90d", "-d", runtime.settings.database_url])
    assert out.exit_code == 0, out.output
    assert "0 ledger rows" in out.output
    assert f"pruned {expected} counters of windows closed more than 3 days ago" in " ".join(
        out.output.split()
    )
    left = {k[1] for k in counters(runtime)}
    assert left == set(WINDOW_CAPS)  # today's windows and the total


def test_window_bounds_match_the_keys_pruned() -> None:
    """The horizon compares keys; the rebuild reads bounds: they describe the same windows."""
    at = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    for cap in ("hourly", "daily", "weekly", "monthly"):
        start, end = window_bounds(cap, at)
        assert end is not None
        assert (
            window_keys(start)[cap]
            == window_keys(at)[cap]
            == window_keys(end - timedelta(microseconds=1))[cap]
        )
        assert window_keys(end)[cap] > window_keys(at)[cap]


def test_a_task_counter_that_holds_nothing_is_pruned_and_comes_back_when_used(runtime: Runtime) -> None:
    """Task counters are kept as long as they count something (the per-task cap reads
    them); one whose holds were all voided, with nothing spent, reads as zero with or
    without its row, so it goes, and the next authorization for the task writes it again."""
    agent(runtime, "bot", caps={"per_task": usd("1.00")})
    ledger = runtime.ledger
    voided = ledger.authorize("bot", AuthorizeRequest(amount=usd("0.40"), task_id="abandoned"))
    ledger.void("bot", voided["id"])
    ledger.authorize("bot", AuthorizeRequest(amount=usd("0.30"), task_id="open"))
    ledger.record(spend("bot", "0.50", NOW, task_id="spent"))
    tasks = {k[2]: v for k, v in counters(runtime).items() if k[1] == "per_task"}
    assert tasks == {"abandoned": (0, 0, 0), "open": (0, usd("0.30"), 0), "spent": (usd("0.50"), 0, 1)}

    assert prune(runtime) >= 1
    tasks = {k[2]: v for k, v in counters(runtime).items() if k[1] == "per_task"}
    assert set(tasks) == {"open", "spent"}
    # The cap still counts what it did: 0.50 spent leaves 0.50 for "spent", a full 1.00 for
    # "abandoned", whose counter is written again.
    with pytest.raises(CapExceeded):
        ledger.authorize("bot", AuthorizeRequest(amount=usd("0.60"), task_id="spent"))
    ledger.authorize("bot", AuthorizeRequest(amount=usd("1.00"), task_id="abandoned"))
    assert counters(runtime)[("bot", "per_task", "abandoned")] == (0, usd("1.00"), 0)
    assert_exact(runtime)
