"""Builders for signal tests: facts, contexts, and a ``Feed`` that drives one agent's state
through the engine and keeps every alert and resolution it produced."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from spendwarden.signals import (
    DEFAULT_CONFIG,
    AgentContext,
    AgentSignalState,
    AlertCandidate,
    Resolution,
    SignalConfig,
    SignalOutcome,
    TaskEventFact,
    TxnFact,
    observe_task_event,
    observe_transaction,
    tick,
)

MONDAY = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday, first day of a 30-day month


def txn(at: datetime, amount: int = 10_000, **kw: Any) -> TxnFact:
    kw.setdefault("vendor", "openai")
    kw.setdefault("model", "gpt-4o")
    return TxnFact(amount=amount, occurred_at=at, **kw)


def every(start: datetime, minutes: float, per_min: float) -> Iterator[datetime]:
    """Evenly spaced times: ``per_min`` a minute for ``minutes`` minutes from ``start``."""
    step = 60.0 / per_min
    for i in range(int(minutes * per_min)):
        yield start + timedelta(seconds=i * step)


@dataclass
class Feed:
    ctx: AgentContext = field(default_factory=lambda: AgentContext(agent_id="agent-1", tier="production"))
    cfg: SignalConfig = DEFAULT_CONFIG
    state: AgentSignalState = field(default_factory=AgentSignalState)
    fired: list[AlertCandidate] = field(default_factory=list)
    cleared: list[Resolution] = field(default_factory=list)

    def _take(self, out: SignalOutcome) -> SignalOutcome:
        assert out.state is self.state
        self.fired += out.fired
        self.cleared += out.cleared
        return out

    def txn(self, at: datetime, amount: int = 10_000, **kw: Any) -> SignalOutcome:
        return self._take(observe_transaction(self.state, txn(at, amount, **kw), self.ctx, self.cfg))

    def task(
        self, type_: str, task_id: str, at: datetime, scope: dict[str, Any] | None = None
    ) -> SignalOutcome:
        fact = TaskEventFact(type=type_, task_id=task_id, occurred_at=at, scope=scope)
        return self._take(observe_task_event(self.state, fact, self.ctx, self.cfg))

    def tick(self, now: datetime) -> SignalOutcome:
        return self._take(tick(self.state, now, self.ctx, self.cfg))

    def steady(
        self, start: datetime, minutes: float, per_min: float, amount: int = 10_000, **kw: Any
    ) -> None:
        for at in every(start, minutes, per_min):
            self.txn(at, amount, **kw)

    def rules(self) -> list[str]:
        return [a.rule for a in self.fired]

    def only(self, rule: str) -> AlertCandidate:
        found = [a for a in self.fired if a.rule == rule]
        assert len(found) == 1, (rule, self.rules())
        return found[0]

    def reset_log(self) -> None:
        self.fired.clear()
        self.cleared.clear()


def history(
    feed: Feed,
    days: int = 1,
    hours: tuple[int, int] = (8, 16),
    per_min: float = 2.0,
    amount: int = 10_000,
    start: datetime = MONDAY,
    **kw: Any,
) -> datetime:
    """Normal working days: ``per_min`` calls a minute between ``hours``; returns the end time."""
    end = start
    for d in range(days):
        day = start + timedelta(days=d)
        begin = day + timedelta(hours=hours[0])
        feed.steady(begin, (hours[1] - hours[0]) * 60, per_min, amount, **kw)
        end = day + timedelta(hours=hours[1])
    return end


BURST_KINDS = ("loop", "same", "retry", "fail", "rail", "calm", "task", "reported")


def burst(feed: Feed, at: datetime, kind: str, n: int, amount: int) -> datetime:
    """``n`` spends from ``at`` of one kind: a fast ``loop``, identical requests (``same``),
    retries, failures, a ``rail`` switch, ``calm`` calls, charges to implicit tasks (``task``)
    or to a task the agent reported starting (``reported``, which can go silent). Returns
    the time of the last one."""
    if kind == "reported":
        feed.task("started", f"r{n % 2}", at)
    step = 1 if kind == "loop" else 7
    for i in range(n):
        kw: dict[str, Any] = {}
        if kind == "same":
            kw.update(tool="search", endpoint="/q")
        elif kind == "retry":
            kw.update(attempt=2 + i % 2)
        elif kind == "fail":
            kw.update(status="failed" if i % 2 else "settled")
        elif kind == "rail":
            kw.update(rail="x402" if i % 3 else "stripe")
        elif kind == "task":
            kw.update(task_id=f"t{i % 3}")
        elif kind == "reported":
            kw.update(task_id=f"r{n % 2}")
        feed.txn(at + timedelta(seconds=i * step), amount, **kw)
    return at + timedelta(seconds=(n - 1) * step)
