from __future__ import annotations

from datetime import timedelta

from spendwarden.signals import AgentContext
from tests.signals.factories import MONDAY, Feed

NINE = MONDAY + timedelta(hours=9)


def _two_weeks_of_tasks(feed: Feed, first_cost: int, second_cost: int) -> None:
    for day in range(14):
        for n in range(2):
            at = MONDAY + timedelta(days=day, hours=9 + n)
            task = f"d{day}-{n}"
            feed.task("started", task, at)
            feed.txn(at + timedelta(minutes=1), first_cost if day < 7 else second_cost, task_id=task)
            feed.task("completed", task, at + timedelta(minutes=2))


def test_cost_per_task_drifting_up_fires() -> None:
    feed = Feed()
    _two_weeks_of_tasks(feed, 1_000_000, 1_300_000)
    alert = feed.only("cost_per_task_drift")
    assert alert.figures["prior_cost_per_task_usd"] == "1.000000"
    assert alert.figures["ratio"] > 1.2
    assert alert.figures["threshold"] == 1.2
    assert alert.figures["tasks"] >= 5 and alert.figures["prior_tasks"] >= 5


def test_a_small_cost_change_is_not_drift() -> None:
    feed = Feed()
    _two_weeks_of_tasks(feed, 1_000_000, 1_150_000)
    assert "cost_per_task_drift" not in feed.rules()


def test_silent_task_warns_then_turns_critical_while_charges_accrue() -> None:
    feed = Feed()
    feed.task("started", "t1", NINE)
    feed.task("progress", "t1", NINE + timedelta(minutes=5))
    feed.tick(NINE + timedelta(minutes=19))
    assert feed.fired == []
    feed.tick(NINE + timedelta(minutes=20))
    alert = feed.only("silence")
    assert alert.severity == "warning"
    assert alert.figures["minutes_since_progress"] == 15.0
    assert alert.dedupe_key == "silence:agent-1:t1:task"
    feed.txn(NINE + timedelta(minutes=21), 50_000, task_id="t1")
    escalated = [a for a in feed.fired if a.rule == "silence"]
    assert [a.severity for a in escalated] == ["warning", "critical"]
    assert escalated[1].dedupe_key == alert.dedupe_key
    assert escalated[1].figures["charges_since_progress"] is True
    feed.task("progress", "t1", NINE + timedelta(minutes=22))
    assert [r.dedupe_key for r in feed.cleared] == [alert.dedupe_key]


def test_agent_silence_minutes_and_implicit_tasks() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", silence_minutes=30))
    feed.task("started", "t1", NINE)
    feed.txn(NINE, 10_000, task_id="implicit")  # never reported on: no silence for it
    feed.tick(NINE + timedelta(minutes=29))
    assert feed.fired == []
    feed.tick(NINE + timedelta(minutes=31))
    assert [a.figures["task_id"] for a in feed.fired] == ["t1"]


def test_tool_calls_beyond_the_task_scope_fire_once() -> None:
    feed = Feed()
    feed.task("started", "t1", NINE, scope={"max_tool_calls": 3})
    for i in range(5):
        feed.txn(NINE + timedelta(seconds=10 * i), 1_000, task_id="t1", tool="search", kind="tool_call")
    alert = feed.only("task_scope")
    assert alert.figures["tool_calls"] == 4
    assert alert.figures["max_tool_calls"] == 3
    feed.task("completed", "t1", NINE + timedelta(minutes=3))
    assert [r.dedupe_key for r in feed.cleared] == [alert.dedupe_key]


def test_tool_calls_within_scope_and_llm_calls_are_fine() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", task_scope={"max_tool_calls": 3, "tools": ["search"]}))
    feed.task("started", "t1", NINE)
    for i in range(3):
        feed.txn(NINE + timedelta(seconds=10 * i), 1_000, task_id="t1", tool="search", kind="tool_call")
    for i in range(5):
        feed.txn(NINE + timedelta(seconds=40 + i), 1_000, task_id="t1")  # LLM calls are not tool calls
    assert feed.fired == []
    feed.txn(NINE + timedelta(minutes=2), 1_000, task_id="t1", tool="shell", kind="tool_call")
    alert = feed.only("task_scope")
    assert alert.figures["tool"] == "shell" and alert.figures["tool_in_scope"] is False
