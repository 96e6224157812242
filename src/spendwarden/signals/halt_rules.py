"""The automatic halt rules of the tier presets (DESIGN.md §2), as pure functions.

An agent's ``halt_rules`` is a dict; every key is optional and absent means "off"::

    {
        "max_single_charge": 1_000_000,   # micros: halt when one charge is larger
        "daily_vs_prior_day": 1.5,        # halt when today's spend > 1.5 x yesterday's (yesterday > 0)
        "hourly_vs_rolling_avg": 3.0,     # halt when this hour's spend > 3 x the rolling hourly average
    }

``evaluate_halt_rules`` sees the spend *including* the fact being recorded; the ledger halts
the agent and raises ``alerts.auto_halt_alert(agent, decision.rule, decision.figures, …)``.
``HaltHistory`` is plain numbers the ledger can read from the agent's signal state with
``halt_history(state, occurred_at, cfg)`` (call it before ``observe_transaction``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendwarden.signals import baseline
from spendwarden.signals.alerts import ratio, usd
from spendwarden.signals.config import DEFAULT_CONFIG, SignalConfig
from spendwarden.signals.facts import SPENDING_STATUSES, TxnFact, to_ts
from spendwarden.signals.state import DAY_SLOTS, HOUR_SLOTS, AgentSignalState

HALT_RULE_KEYS = {"max_single_charge": int, "daily_vs_prior_day": float, "hourly_vs_rolling_avg": float}
_TIER_RULES: dict[str, dict[str, Any]] = {
    "experimental": {"max_single_charge": 1_000_000},
    "staging": {"daily_vs_prior_day": 1.5},
    "production": {"hourly_vs_rolling_avg": 3.0},
    "custom": {},
}


@dataclass(frozen=True, slots=True)
class HaltHistory:
    """Spend before the fact: today (UTC), the prior day, this hour; the rolling hourly average
    (micros per active hour, ``None`` while the agent has too little history to have one)."""

    today_spend: int = 0
    prior_day_spend: int = 0
    hour_spend: int = 0
    rolling_hourly_avg: float | None = None


@dataclass(frozen=True, slots=True)
class HaltDecision:
    rule: str
    figures: dict[str, Any]
    message: str


def tier_halt_rules(tier: str) -> dict[str, Any]:
    """The preset halt rules of a tier (a fresh dict; ``custom`` has none)."""
    return dict(_TIER_RULES.get(tier, {}))


def validate_halt_rules(rules: dict[str, Any]) -> None:
    for key, value in rules.items():
        if key not in HALT_RULE_KEYS:
            raise ValueError(f"unknown halt rule {key!r}")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
        ):
            raise ValueError(f"halt rule {key!r} must be a positive number or null")


def evaluate_halt_rules(
    halt_rules: dict[str, Any], fact: TxnFact, history: HaltHistory
) -> HaltDecision | None:
    """The first halt rule this spend trips, with its numbers, or ``None``."""
    if fact.status not in SPENDING_STATUSES or fact.amount <= 0:
        return None
    amount = fact.amount
    limit = halt_rules.get("max_single_charge")
    if limit is not None and amount > limit:
        return HaltDecision(
            "max_single_charge",
            {"amount_usd": usd(amount), "limit_usd": usd(limit)},
            f"A single charge of {usd(amount)} exceeds the limit of {usd(limit)}.",
        )
    factor = halt_rules.get("daily_vs_prior_day")
    today = history.today_spend + amount
    if factor is not None and history.prior_day_spend > 0 and today > factor * history.prior_day_spend:
        figures = {
            "today_usd": usd(today),
            "prior_day_usd": usd(history.prior_day_spend),
            "ratio": ratio(today / history.prior_day_spend),
            "threshold": factor,
        }
        return HaltDecision(
            "daily_vs_prior_day",
            figures,
            f"Today's spend {usd(today)} is over {factor}x the prior day's {usd(history.prior_day_spend)}.",
        )
    return _hourly(halt_rules.get("hourly_vs_rolling_avg"), history, amount)


def _hourly(factor: float | None, history: HaltHistory, amount: int) -> HaltDecision | None:
    avg = history.rolling_hourly_avg
    hour = history.hour_spend + amount
    if factor is None or not avg or hour <= factor * avg:
        return None
    figures = {
        "hour_usd": usd(hour),
        "rolling_hourly_avg_usd": usd(avg),
        "ratio": ratio(hour / avg),
        "threshold": factor,
    }
    return HaltDecision(
        "hourly_vs_rolling_avg",
        figures,
        f"This hour's spend {usd(hour)} is over {factor}x the rolling hourly average {usd(avg)}.",
    )


def halt_history(
    state: AgentSignalState, occurred_at: datetime, cfg: SignalConfig = DEFAULT_CONFIG
) -> HaltHistory:
    """Read the halt history at ``occurred_at`` from an agent's signal state (no mutation)."""
    ts = to_ts(occurred_at)
    day, hour = ts // 86_400, ts // 3600
    return HaltHistory(
        today_spend=_slot(state.d_spend, state.d_head, day, DAY_SLOTS),
        prior_day_spend=_slot(state.d_spend, state.d_head, day - 1, DAY_SLOTS),
        hour_spend=_slot(state.h_spend, state.h_head, hour, HOUR_SLOTS),
        rolling_hourly_avg=state.b_usd_h if baseline.mature(state, cfg) else None,
    )


def _slot(values: list[int], head: int, index: int, size: int) -> int:
    return values[index % size] if 0 <= head - index < size else 0
