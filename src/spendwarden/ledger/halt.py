"""Auto-halt rules: pure decisions over one recorded spend and the agent's recent history.

Shapes of ``halt_rules`` (every key optional; absent or ``null`` means off; amounts in micros)::

    {"max_single_charge": 1_000_000,  # halt when one charge is larger
     "daily_vs_prior_day": 1.5,       # halt when today > 1.5 x yesterday (yesterday > 0)
     "hourly_vs_rolling_avg": 3.0,    # halt when this hour > 3 x the rolling hourly average
     "rolling_hours": 24,             # the window of that average
     "min_active_hours": 6,           # hours with spend needed before the average counts
     "min_hourly_baseline": 100_000}  # the average never counts as lower than this

The rolling average is over the hours *with* spend: an office-hours agent is compared
with its working hours, and a new agent is never halted before it has a baseline.
Figures come from the ledger's own counters, so halts work with or without detectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spendwarden.money import format_amount


@dataclass(frozen=True)
class HaltHistory:
    """What the rules look at: today's and yesterday's spend, this hour and the hours before."""

    amount: int
    today: int
    prior_day: int
    this_hour: int
    previous_hours: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class HaltDecision:
    rule: str
    message: str
    figures: dict[str, Any]


def evaluate_halt_rules(rules: dict[str, Any], history: HaltHistory) -> HaltDecision | None:
    """The first halt rule this spend trips, with the numbers that tripped it."""
    for check in (_single_charge, _daily_vs_prior, _hourly_vs_rolling):
        decision = check(rules, history)
        if decision is not None:
            return decision
    return None


def _single_charge(rules: dict[str, Any], h: HaltHistory) -> HaltDecision | None:
    limit = rules.get("max_single_charge")
    if limit is None or h.amount <= int(limit):
        return None
    return HaltDecision(
        rule="max_single_charge",
        message=f"single charge {format_amount(h.amount)} USD > limit {format_amount(int(limit))} USD",
        figures={"amount_usd": format_amount(h.amount), "limit_usd": format_amount(int(limit))},
    )


def _daily_vs_prior(rules: dict[str, Any], h: HaltHistory) -> HaltDecision | None:
    factor = rules.get("daily_vs_prior_day")
    if factor is None or h.prior_day <= 0 or h.today <= h.prior_day * float(factor):
        return None
    return HaltDecision(
        rule="daily_vs_prior_day",
        message=(
            f"daily spend {format_amount(h.today)} USD > {factor}x prior day {format_amount(h.prior_day)} USD"
        ),
        figures={
            "today_usd": format_amount(h.today),
            "prior_day_usd": format_amount(h.prior_day),
            "ratio": round(h.today / h.prior_day, 3),
            "threshold": float(factor),
        },
    )


def _hourly_vs_rolling(rules: dict[str, Any], h: HaltHistory) -> HaltDecision | None:
    factor = rules.get("hourly_vs_rolling_avg")
    active = [spend for spend in h.previous_hours if spend > 0]
    if factor is None or len(active) < int(rules.get("min_active_hours", 6)):
        return None
    average = max(sum(active) / len(active), float(rules.get("min_hourly_baseline", 100_000)))
    if h.this_hour <= average * float(factor):
        return None
    return HaltDecision(
        rule="hourly_vs_rolling_avg",
        message=f"hourly spend {format_amount(h.this_hour)} USD > {factor}x rolling average",
        figures={
            "this_hour_usd": format_amount(h.this_hour),
            "rolling_avg_usd": format_amount(round(average)),
            "ratio": round(h.this_hour / average, 3),
            "threshold": float(factor),
        },
    )


HALT_RULE_KEYS = {
    "max_single_charge": int,
    "daily_vs_prior_day": float,
    "hourly_vs_rolling_avg": float,
    "rolling_hours": int,
    "min_active_hours": int,
    "min_hourly_baseline": int,
}


def validate_halt_rules(rules: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first unknown or ill-typed rule."""
    for key, value in rules.items():
        kind = HALT_RULE_KEYS.get(key)
        if kind is None:
            raise ValueError(f"unknown halt rule {key!r}; known: {', '.join(sorted(HALT_RULE_KEYS))}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"halt rule {key!r} must be a positive number or null")
        if kind is int and not float(value).is_integer():
            raise ValueError(f"halt rule {key!r} must be a whole number")
