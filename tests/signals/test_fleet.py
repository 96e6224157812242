"""A fleet of 20 agents with a week of normal history, then five kinds of trouble: each is
caught by its rule, and the agents that behaved raise nothing at all."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from spendwarden.signals import ActiveHours, AgentContext, find_payment_cycle, observe_payment_cycle
from tests.signals.factories import MONDAY, Feed

WEEK = MONDAY + timedelta(days=7)
OFFICE = ActiveHours.from_json({"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"})
TOOLS = (
    (None, None),
    ("search", "https://api.search.example/v1"),
    ("browser", "https://browser.example/run"),
)
Plan = list[tuple[datetime, int, str, dict[str, Any]]]


def _office(i: int) -> bool:
    return i % 2 == 0


def _windows(i: int, start: datetime, days: int) -> list[tuple[datetime, datetime]]:
    out = []
    for d in range(days):
        day = start + timedelta(days=d)
        if not _office(i):
            out.append((day, day + timedelta(days=1)))
        elif day.weekday() < 5:
            out.append((day + timedelta(hours=9), day + timedelta(hours=17)))
    return out


def _normal(i: int, start: datetime, days: int) -> Plan:
    """Calls at a steady pace with some noise, in 10-minute tasks reported every 3 minutes."""
    rng = random.Random(i)
    per_min = 1.0 if _office(i) else 0.5
    base = 20_000 + 5_000 * i
    plan: Plan = []
    for begin, end in _windows(i, start, days):
        for n, slot in enumerate(range(int((end - begin).total_seconds() // 600))):
            t0 = begin + timedelta(minutes=10 * slot)
            task = f"{t0:%m%d%H%M}"
            plan += [
                (t0, 0, "task", {"type_": "started", "task_id": task}),
                (t0 + timedelta(minutes=3), 0, "task", {"type_": "progress", "task_id": task}),
                (t0 + timedelta(minutes=6), 0, "task", {"type_": "progress", "task_id": task}),
                (t0 + timedelta(minutes=9, seconds=30), 0, "task", {"type_": "completed", "task_id": task}),
            ]
            for k in range(int(9 * per_min)):
                c = n * 9 + k
                tool, endpoint = TOOLS[c % 4 % 3]
                kw = {
                    "rail": "stripe" if c % 5 == 0 else "llm_api",
                    "tool": tool,
                    "endpoint": endpoint,
                    "vendor": ("openai", "anthropic")[c % 2],
                    "model": "gpt-4o",
                    "task_id": task,
                    "attempt": 2 if c % 50 == 7 else 1,
                    "status": "failed" if c % 100 == 3 else "settled",
                }
                at = t0 + timedelta(seconds=int(k * 60 / per_min) + 5)
                plan.append((at, 1, "txn", {"amount": int(base * rng.uniform(0.8, 1.2)), **kw}))
    ticks = [(start + timedelta(minutes=10 * k, seconds=59), 2, "tick", {}) for k in range(days * 144)]
    return sorted(plan + ticks, key=lambda p: (p[0], p[1]))


def _run(feed: Feed, plan: Plan) -> None:
    for at, _, what, kw in plan:
        if what == "txn":
            feed.txn(at, **kw)
        elif what == "task":
            feed.task(at=at, **kw)
        else:
            feed.tick(at)


def _burst(at: datetime, minutes: float, per_min: float, **kw: Any) -> Plan:
    return [
        (at + timedelta(seconds=k * 60 / per_min), 1, "txn", dict(kw)) for k in range(int(minutes * per_min))
    ]


def test_fleet_week_then_trouble() -> None:
    feeds = {}
    for i in range(20):
        ctx = AgentContext(
            agent_id=f"agent-{i:02d}",
            tier="production",
            caps={"monthly": 10_000_000_000},
            active_hours=OFFICE if _office(i) else None,
        )
        feeds[i] = Feed(ctx=ctx)
        _run(feeds[i], _normal(i, MONDAY, 7))
    noisy = {i: f.rules() for i, f in feeds.items() if f.fired}
    assert noisy == {}, noisy

    trouble: dict[int, Plan] = {
        3: _burst(
            WEEK + timedelta(hours=2),
            5,
            60,
            amount=40_000,
            tool="search",
            endpoint="https://api.search.example/v1",
            model="gpt-4o",
        ),
        5: _burst(WEEK + timedelta(hours=3), 20, 3, amount=60_000, attempt=3, status="failed"),
        7: _burst(WEEK + timedelta(hours=4), 60, 0.5, amount=55_000, rail="x402", vendor="openai"),
        14: _burst(WEEK + timedelta(hours=23), 10, 1, amount=60_000, vendor="openai"),
    }
    for i, feed in feeds.items():
        _run(feed, sorted(_normal(i, WEEK, 1) + trouble.get(i, []), key=lambda p: (p[0], p[1])))

    edges: list[tuple[str, str, datetime]] = []
    for payer, payee, minute in ((9, 11, 0), (11, 13, 10), (13, 9, 20)):
        at = WEEK + timedelta(hours=5, minutes=minute, seconds=30)
        feed = feeds[payer]
        feed.txn(at, 40_000, kind="transfer", rail="internal", counterparty_agent_id=f"agent-{payee:02d}")
        edges.append((feed.ctx.agent_id, f"agent-{payee:02d}", at))
        cycle = find_payment_cycle(edges, feed.ctx.agent_id, at)
        out = observe_payment_cycle(feed.state, cycle, feed.ctx, at)
        feed.fired += out.fired

    assert "runaway_loop" in feeds[3].rules()
    assert {"retry_cost", "failure_rate"} <= set(feeds[5].rules())
    assert "rail_shift" in feeds[7].rules()
    assert feeds[13].only("payment_loop").figures["cycle"] == ["agent-13", "agent-09", "agent-11", "agent-13"]
    assert feeds[14].rules() == ["off_hours"]
    runaway = feeds[3].only("runaway_loop")
    assert runaway.occurred_at.hour == 2 and runaway.figures["baseline_source"] == "adaptive"
    clean = {i: f.rules() for i, f in feeds.items() if i not in (3, 5, 7, 13, 14) and f.fired}
    assert clean == {}, clean
