"""The detectors wired into the real ledger, on both backends: one alert per persisting
condition, resolved when it clears (on the tick of an injected clock), the same alerts
again when the same history is replayed into a fresh database, task events, payment
loops, and thresholds from settings under per-agent overrides."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.db import queries as q
from spendwarden.ledger.agents import AgentSpec
from spendwarden.runtime import Runtime, build_runtime
from spendwarden.tasks import TaskEvent, record_task_event
from tests.conftest import ADMIN_TOKEN, START
from tests.factories import spend

History = list[tuple[datetime, str, dict[str, Any]]]


def agent(runtime: Runtime, agent_id: str, **kw: Any) -> None:
    runtime.ledger.create_agent(AgentSpec(id=agent_id, tier="custom", **kw), "test")


def play(runtime: Runtime, history: History) -> None:
    """Record spends and task events at their times, the clock following along."""
    clock = runtime.clock
    assert isinstance(clock, FrozenClock)
    for at, agent_id, fields in history:
        clock.set(at)
        if "type" in fields:
            record_task_event(runtime.ledger.core, TaskEvent(agent_id=agent_id, occurred_at=at, **fields))
        else:
            fields = {"vendor": "openai", "tool": "search", "model": "gpt-4o", **fields}
            runtime.ledger.record(spend(agent_id, fields.pop("amount", "0.01"), occurred_at=at, **fields))


def loop_burst(agent_id: str, start: datetime, n: int = 60) -> History:
    return [(start + timedelta(seconds=i), agent_id, {}) for i in range(n)]


def alerts(runtime: Runtime, **filters: Any) -> list[dict[str, Any]]:
    with runtime.store.read() as conn:
        return q.list_alerts(conn, filters=filters, before=None, limit=1000)


def later(runtime: Runtime, minutes: float) -> None:
    clock = runtime.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=minutes))
    runtime.sweep()


def test_a_runaway_loop_opens_one_alert_and_resolves_when_it_stops(runtime: Runtime) -> None:
    agent(runtime, "crawler")
    play(runtime, loop_burst("crawler", START))
    (alert,) = alerts(runtime, rule="runaway_loop")
    assert alert["status"] == "open" and alert["agent_id"] == "crawler" and alert["severity"] == "critical"
    assert alert["figures"] and '"tx_per_min"' in alert["figures"]
    assert {a["rule"] for a in alerts(runtime)} == {"runaway_loop"}
    later(runtime, 20)
    (alert,) = alerts(runtime, rule="runaway_loop")
    assert alert["status"] == "resolved" and alert["resolved_by"] == "system"


def test_an_acknowledged_loop_still_dedupes(runtime: Runtime) -> None:
    from spendwarden.alerts.actions import acknowledge

    agent(runtime, "crawler")
    play(runtime, loop_burst("crawler", START, 40))
    (alert,) = alerts(runtime, rule="runaway_loop")
    acknowledge(runtime.ledger.core, alert["id"], "admin:test")
    play(runtime, loop_burst("crawler", START + timedelta(seconds=40), 40))
    assert [a["status"] for a in alerts(runtime, rule="runaway_loop")] == ["acknowledged"]


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/replay.db", admin_token=ADMIN_TOKEN)
    rt = build_runtime(settings, clock=FrozenClock(START), migrate=True)
    yield rt
    rt.close()


def _fingerprint(runtime: Runtime) -> list[tuple[str, str, str, str]]:
    return sorted((a["rule"], a["dedupe_key"], a["severity"], a["status"]) for a in alerts(runtime))


def test_replaying_history_reproduces_the_alerts(runtime: Runtime, fresh_sqlite: Runtime) -> None:
    history: History = [
        *loop_burst("crawler", START),
        *[
            (START + timedelta(minutes=2, seconds=10 * i), "payer", {"rail": "x402", "amount": "0.20"})
            for i in range(12)
        ],
        (
            START + timedelta(minutes=5),
            "worker",
            {"type": "task.started", "task_id": "t1", "scope": {"max_tool_calls": 2}},
        ),
        *[(START + timedelta(minutes=5, seconds=i + 1), "worker", {"task_id": "t1"}) for i in range(3)],
    ]
    for rt in (runtime, fresh_sqlite):
        for name in ("crawler", "payer", "worker"):
            agent(rt, name)
        play(rt, history)
        later(rt, 30)
    first = _fingerprint(runtime)
    assert {"runaway_loop", "task_scope"} <= {rule for rule, *_ in first}
    assert first == _fingerprint(fresh_sqlite)


def test_task_scope_and_silence_from_task_events(runtime: Runtime) -> None:
    agent(runtime, "worker")
    play(
        runtime,
        [
            (START, "worker", {"type": "task.started", "task_id": "t1", "scope": {"max_tool_calls": 3}}),
            *[(START + timedelta(seconds=10 * (i + 1)), "worker", {"task_id": "t1"}) for i in range(4)],
        ],
    )
    (scope,) = alerts(runtime, rule="task_scope")
    assert scope["status"] == "open" and '"max_tool_calls":3' in scope["figures"]
    later(runtime, 16)
    (silence,) = alerts(runtime, rule="silence")
    assert silence["status"] == "open"
    clock = runtime.clock
    record_task_event(
        runtime.ledger.core,
        TaskEvent(agent_id="worker", task_id="t1", type="task.completed", occurred_at=clock.now()),
    )
    assert {a["rule"]: a["status"] for a in alerts(runtime)} == {
        "task_scope": "resolved",
        "silence": "resolved",
    }


def test_a_payment_loop_between_three_agents(runtime: Runtime) -> None:
    for name in ("a", "b", "c"):
        agent(runtime, name)
    transfer = {"kind": "transfer", "rail": "internal", "amount": "1.00"}
    play(
        runtime,
        [
            (START, "a", {**transfer, "counterparty_agent_id": "b"}),
            (START + timedelta(minutes=10), "b", {**transfer, "counterparty_agent_id": "c"}),
            (START + timedelta(minutes=20), "c", {**transfer, "counterparty_agent_id": "a"}),
        ],
    )
    (loop,) = alerts(runtime, rule="payment_loop")
    assert loop["agent_id"] == "c" and '"cycle":["c","a","b","c"]' in loop["figures"]


def test_fleet_settings_under_agent_overrides(settings: Settings, clock: FrozenClock) -> None:
    strict = settings.model_copy(update={"signals": {"runaway_min_tx_per_min": 1000}})
    rt = build_runtime(strict, clock=clock, migrate=False)
    try:
        agent(rt, "calm")
        agent(rt, "watched", signals={"runaway_min_tx_per_min": 10, "not_a_setting": 3})
        play(rt, loop_burst("calm", START) + loop_burst("watched", START + timedelta(minutes=5)))
        assert [a["agent_id"] for a in alerts(rt, rule="runaway_loop")] == ["watched"]
    finally:
        rt.close()
    with pytest.raises(ValueError, match="unknown signal setting"):
        build_runtime(settings.model_copy(update={"signals": {"nope": 1}}), clock=clock, migrate=False)


def test_a_tick_with_nothing_to_raise_or_clear_writes_nothing(runtime: Runtime) -> None:
    """The tick's dry run: an agent whose tick would only move the engine's clock is not
    locked or written; one with a condition to resolve is, and the alert resolves."""
    agent(runtime, "quiet")
    agent(runtime, "looping")
    play(runtime, [(START, "quiet", {})])
    play(runtime, loop_burst("looping", START + timedelta(seconds=1)))
    assert [a["rule"] for a in alerts(runtime, agent_id="looping", status="open")] == ["runaway_loop"]

    def state_rows() -> dict[str, tuple[Any, Any]]:
        with runtime.store.read() as conn:
            return {
                a: (s["updated_at"], s["signal_state"])
                for a in ("quiet", "looping")
                if (s := q.get_state(conn, a))
            }

    before = state_rows()
    later(runtime, 2)  # the loop has stopped: its alert resolves; the quiet agent has nothing
    after = state_rows()
    assert after["quiet"] == before["quiet"]
    assert after["looping"] != before["looping"]
    assert not alerts(runtime, agent_id="looping", status="open")


def test_the_tick_evaluates_recent_agents_every_round_and_idle_ones_once_per_period(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event writes the agent's watch (its last event plus the flow rules' horizon); while
    it lasts the agent is dry-run every round, after it once per ``IDLE_SECONDS``."""
    from spendwarden.signals.cadence import IDLE_SECONDS
    from spendwarden.signals.engine import FLOW_HORIZON
    from spendwarden.signals.plugin import TICK_SECONDS, SignalsObserver

    agent(runtime, "earlier")
    agent(runtime, "busy")
    play(runtime, [(START, "earlier", {})])
    busy_at = START + timedelta(seconds=FLOW_HORIZON + 60)
    play(runtime, [(busy_at, "busy", {})])
    with runtime.store.read() as conn:
        watch = {a: q.get_state(conn, a)["signal_watch_until"] for a in ("earlier", "busy")}  # type: ignore[index]
    assert watch == {
        "earlier": int(START.timestamp() + FLOW_HORIZON) * 1_000_000,
        "busy": int(busy_at.timestamp() + FLOW_HORIZON) * 1_000_000,
    }

    observer = next(o for o in runtime.ledger.core.observers if isinstance(o, SignalsObserver))
    evaluated: list[list[str]] = []
    dry_run = observer._acting
    monkeypatch.setattr(observer, "_acting", lambda ids, now: evaluated.append(ids) or dry_run(ids, now))
    rounds = IDLE_SECONDS // TICK_SECONDS
    for _ in range(rounds + 1):  # the first round evaluates everyone: no tick before it
        later(runtime, TICK_SECONDS / 60)
    counts = Counter(a for batch in evaluated[1:] for a in batch)
    assert counts == {"busy": rounds, "earlier": 1}


def test_an_agent_whose_late_event_finds_it_idle_joins_the_schedule_at_the_next_round(
    runtime: Runtime,
) -> None:
    """A backdated event gives an agent state that is idle from the start: the next round
    schedules it (not the next full reload, ten minutes on)."""
    from spendwarden.signals.plugin import TICK_SECONDS, SignalsObserver

    agent(runtime, "early")
    agent(runtime, "late")
    play(runtime, [(START, "early", {})])
    later(runtime, 180)  # loads the idle schedule: "early" only
    observer = next(o for o in runtime.ledger.core.observers if isinstance(o, SignalsObserver))
    assert "early" in observer._idle and "late" not in observer._idle
    runtime.ledger.record(spend("late", "0.01", occurred_at=START + timedelta(minutes=5)))
    later(runtime, TICK_SECONDS / 60)
    assert "late" in observer._idle
