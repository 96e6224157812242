"""Dedupe and resolve: turning Hits into one alert per persisting condition.

``state.active`` maps a condition slot (``rule`` or ``rule:subject``) to
``[dedupe_key, since_ts, severity, extra]``. A Hit on an inactive slot opens it and fires
an AlertCandidate; a Hit on an active slot fires nothing, unless its severity rose (an
escalation with the same key) or its calendar period changed (the old one resolves, a new
one opens); ``None`` on an active slot resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from spendwarden.signals.alerts import (
    SEVERITY_RANK,
    AlertCandidate,
    Hit,
    Resolution,
    candidate,
    dedupe_key,
    onset_label,
)
from spendwarden.signals.facts import to_ts
from spendwarden.signals.state import AgentSignalState


@dataclass(slots=True)
class SignalOutcome:
    """What one observation did: the (same, updated) state, alerts to open, alerts to resolve."""

    state: AgentSignalState
    fired: list[AlertCandidate] = field(default_factory=list)
    cleared: list[Resolution] = field(default_factory=list)


def rule_of(slot: str) -> str:
    return slot.partition(":")[0]


def settle(out: SignalOutcome, slot: str, hit: Hit | None, agent: str, when: datetime) -> None:
    active = out.state.active
    act = active.get(slot)
    if hit is None:
        if act is not None:
            del active[slot]
            out.cleared.append(Resolution(rule_of(slot), agent, act[0], when))
        return
    subject = slot.partition(":")[2] or None
    if act is not None:
        same = hit.period is None or act[0] == dedupe_key(hit.rule, agent, hit.period, subject)
        if same:
            if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[act[2]]:
                act[2] = hit.severity
                out.fired.append(candidate(hit, agent, act[0], when))
            if hit.extra is not None:
                act[3] = hit.extra
            return
        del active[slot]
        out.cleared.append(Resolution(rule_of(slot), agent, act[0], when))
    key = dedupe_key(hit.rule, agent, hit.period or onset_label(when), subject)
    active[slot] = [key, to_ts(when), hit.severity, hit.extra]
    out.fired.append(candidate(hit, agent, key, when))


def clear(out: SignalOutcome, slot: str, agent: str, when: datetime) -> None:
    if slot in out.state.active:
        settle(out, slot, None, agent, when)


def fire_once(out: SignalOutcome, hit: Hit, agent: str, when: datetime) -> None:
    """One-shot alerts (new_endpoint, budget_threshold): their memory is elsewhere in the state."""
    subject = hit.slot.partition(":")[2] or None
    key = dedupe_key(hit.rule, agent, hit.period or when.strftime("%Y-%m-%d"), subject)
    out.fired.append(candidate(hit, agent, key, when))
