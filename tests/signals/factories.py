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
