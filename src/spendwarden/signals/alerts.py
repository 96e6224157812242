"""Alert candidates and resolutions: every alert of every rule is built here.

A rule family returns a ``Hit`` (the condition holds, with its numbers) or ``None``; the
engine turns a new Hit into an ``AlertCandidate`` and a cleared condition into a
``Resolution``. ``cap_breach`` and ``auto_halt`` come from the ledger and use the builders
at the bottom, so their alerts look like everyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spendwarden.money import format_amount

RULES = (
    "velocity_spike",
    "runaway_loop",
    "rail_shift",
    "budget_burn",
    "anomaly_score",
    "cost_per_task_drift",
    "tool_concentration",
    "cap_utilization",
    "budget_threshold",
    "retry_cost",
    "failure_rate",
    "off_hours",
    "payment_loop",
    "new_endpoint",
    "silence",
    "task_scope",
    "forecast_overrun",
    "cap_breach",
    "auto_halt",
)
SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    """An alert to open. A candidate whose ``dedupe_key`` matches an open alert is an
    escalation of it (same condition, higher severity): update, don't duplicate."""

    rule: str
    severity: str
    agent_id: str
    dedupe_key: str
    title: str
    message: str
    figures: dict[str, Any]
    occurred_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "agent_id": self.agent_id,
            "dedupe_key": self.dedupe_key,
            "title": self.title,
            "message": self.message,
            "figures": self.figures,
            "occurred_at": self.occurred_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Resolution:
    """The condition behind the open alert ``dedupe_key`` has cleared."""

    rule: str
    agent_id: str
    dedupe_key: str
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule's condition holds now.

    ``cond`` names the condition slot in the state (``rule`` or ``rule:subject``); ``period``
    is the calendar period for calendar-bound rules (``"2026-05"``) or ``None``, in which
    case the onset minute becomes the period. ``extra`` is remembered while it is active.
    """

    rule: str
    severity: str
    title: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    cond: str = ""
    period: str | None = None
    extra: str | None = None

    @property
    def slot(self) -> str:
        return self.cond or self.rule


def dedupe_key(rule: str, agent_id: str, period: str, subject: str | None = None) -> str:
    return f"{rule}:{agent_id}:{subject}:{period}" if subject else f"{rule}:{agent_id}:{period}"


def onset_label(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%MZ")


def candidate(hit: Hit, agent_id: str, key: str, when: datetime) -> AlertCandidate:
    return AlertCandidate(hit.rule, hit.severity, agent_id, key, hit.title, hit.message, hit.figures, when)


def usd(micros: float) -> str:
    """Figures show amounts as exact decimal strings."""
    return format_amount(round(micros))


def ratio(value: float) -> float:
    return round(value, 4)


def payment_loop_alert(
    agent_id: str, cycle: list[str], occurred_at: datetime, window_hours: int = 24
) -> AlertCandidate:
    """A cycle of agent-to-agent payments (see ``loops.find_payment_cycle``)."""
    key = dedupe_key("payment_loop", agent_id, occurred_at.strftime("%Y-%m-%d"), canonical_cycle(cycle))
    path = " → ".join(cycle)
    return AlertCandidate(
        "payment_loop",
        "critical",
        agent_id,
        key,
        "Agent-to-agent payment loop",
        f"Payments went round in a circle within {window_hours} h: {path}.",
        {"cycle": list(cycle), "hops": len(cycle) - 1, "window_hours": window_hours},
        occurred_at,
    )


def canonical_cycle(cycle: list[str]) -> str:
    """The same loop entered at any agent has one name: rotate to start at the least id."""
    ring = cycle[:-1] if len(cycle) > 1 and cycle[0] == cycle[-1] else list(cycle)
    if not ring:
        return ""
    start = ring.index(min(ring))
    return ">".join(ring[start:] + ring[:start])
