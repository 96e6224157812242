"""The plain facts the detectors consume: one transaction, one task event, the agent's settings.

The integrator builds these from ledger rows and the agent row; nothing here touches a
database. Times are aware datetimes (naive ones are taken as UTC); amounts are micros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from spendwarden.events import SpendEvent

TASK_EVENT_TYPES = ("started", "progress", "completed", "failed")
# Statuses whose amount is money that moved (a failed LLM call may still be billed).
SPENDING_STATUSES = frozenset({"settled", "failed"})


def to_ts(when: datetime) -> int:
    """Whole UTC epoch seconds of ``when`` (naive = UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def from_ts(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxnFact:
    """One ledger transaction as the detectors see it."""

    amount: int
    occurred_at: datetime
    rail: str = "llm_api"
    vendor: str | None = None
    tool: str | None = None
    endpoint: str | None = None
    model: str | None = None
    kind: str = "llm_call"
    status: str = "settled"
    attempt: int = 1
    task_id: str | None = None
    counterparty_agent_id: str | None = None

    @classmethod
    def from_event(cls, event: SpendEvent, occurred_at: datetime | None = None) -> TxnFact:
        when = occurred_at or event.occurred_at
        if when is None:
            raise ValueError("a transaction fact needs occurred_at")
        return cls(
            amount=event.amount,
            occurred_at=when,
            rail=event.rail,
            vendor=event.vendor,
            tool=event.tool,
            endpoint=event.endpoint,
            model=event.model,
            kind=event.kind,
            status=event.status,
            attempt=event.attempt,
            task_id=event.task_id,
            counterparty_agent_id=event.counterparty_agent_id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEventFact:
    """``task.started|progress|completed|failed``. ``scope`` (on ``started``) may hold
    ``{"max_tool_calls": int, "tools": [names]}``; it overrides the agent's ``task_scope``."""

    type: str
    task_id: str
    occurred_at: datetime
    scope: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.type not in TASK_EVENT_TYPES:
            raise ValueError(f"task event type must be one of {TASK_EVENT_TYPES}")


@dataclass(frozen=True, slots=True)
class ActiveHours:
    """When an agent is expected to spend.

    JSON shape: ``{"tz": "UTC", "days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}``.
    ``tz`` is any IANA zone (default UTC); ``days`` are weekdays, Monday = 0, of the day a
    window *starts*; ``end`` before ``start`` means an overnight window (22:00-06:00);
    ``start == end`` means all day.
    """

    tz: str = "UTC"
    days: frozenset[int] = frozenset(range(7))
    start_min: int = 0
    end_min: int = 0

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ActiveHours:
        days = frozenset(int(x) for x in d.get("days", range(7)))
        if not days <= frozenset(range(7)):
            raise ValueError("active_hours.days must be weekdays 0 (Monday) to 6")
        tz = str(d.get("tz", "UTC"))
        _zone(tz)
        return cls(tz, days, _minutes(d.get("start", "00:00")), _minutes(d.get("end", "00:00")))

    def to_json(self) -> dict[str, Any]:
        return {
            "tz": self.tz,
            "days": sorted(self.days),
            "start": _hhmm(self.start_min),
            "end": _hhmm(self.end_min),
        }

    def contains(self, when: datetime) -> bool:
        local = when.astimezone(_zone(self.tz)) if self.tz != "UTC" else when.astimezone(UTC)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start_min == self.end_min:
            return day in self.days
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        if minute >= self.start_min:
            return day in self.days
        return minute < self.end_min and (day - 1) % 7 in self.days


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _minutes(text: object) -> int:
    hh, _, mm = str(text).partition(":")
    value = int(hh) * 60 + int(mm or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"not a time of day: {text!r}")
    return value % (24 * 60)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentContext:
    """The agent settings and live cap figures the rules need, read from the agent row.

    ``cap_spend`` is the spend counted against each cap in its current window *after* the
    transaction being observed (settled plus open holds), e.g. ``{"daily": 4_200_000}``.
    ``monthly_budget`` defaults to the ``monthly`` cap. ``overrides`` are per-agent
    ``SignalConfig`` field overrides.
    """

    agent_id: str
    tier: str = "experimental"
    caps: Mapping[str, int | None] = field(default_factory=dict)
    cap_spend: Mapping[str, int] = field(default_factory=dict)
    monthly_budget: int | None = None
    active_hours: ActiveHours | None = None
    silence_minutes: int | None = None
    task_scope: Mapping[str, Any] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def monthly_cap(self) -> int | None:
        return self.monthly_budget if self.monthly_budget is not None else self.caps.get("monthly")
