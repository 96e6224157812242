"""Budget rules: ``cap_utilization``, ``budget_threshold``, ``budget_burn``, ``forecast_overrun``.

Month figures are calendar months in UTC. Month-to-date spend is the integrator's
``cap_spend["monthly"]`` when it has one (it includes open holds), else the state's own
count of spend this month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spendwarden.ledger.windows import window_key
from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.facts import AgentContext, from_ts
from spendwarden.signals.state import DAY_SLOTS, AgentSignalState, spend_prev_24h

DAY = 86_400
_LEVEL_SEVERITY = {50: "info", 75: "warning"}


def month_to_date(state: AgentSignalState, ctx: AgentContext) -> int:
    return ctx.cap_spend.get("monthly", state.mo_spend)


def check_caps(
    ctx: AgentContext, cfg: SignalConfig, when: datetime, task_id: str | None
) -> list[tuple[str, Hit | None]]:
    """One (condition slot, hit or None) per cap with a limit and a known spend."""
    out: list[tuple[str, Hit | None]] = []
    for cap, limit in ctx.caps.items():
        spent = ctx.cap_spend.get(cap)
        if not limit or spent is None or cap == "per_transaction" or (cap == "per_task" and not task_id):
            continue
        used = spent / limit
        hit = None
        if used > cfg.cap_utilization:
            period = task_id or "task" if cap == "per_task" else window_key(cap, when)
            figures = {
                "cap": cap,
                "limit_usd": usd(limit),
                "spent_usd": usd(spent),
                "utilization": ratio(used),
                "threshold": cfg.cap_utilization,
            }
            hit = Hit(
                "cap_utilization",
                "warning",
                f"{cap} cap {used:.0%} used",
                f"{usd(spent)} of the {cap} cap of {usd(limit)} is used.",
                figures,
                cond=f"cap_utilization:{cap}",
                period=period,
            )
        out.append((f"cap_utilization:{cap}", hit))
    return out


def check_threshold(state: AgentSignalState, ctx: AgentContext, cfg: SignalConfig) -> Hit | None:
    """One-shot: the highest monthly budget level newly crossed (lower ones are marked too)."""
    budget = ctx.monthly_cap
    if not budget:
        return None
    spent = month_to_date(state, ctx)
    pct = spent * 100 / budget
    crossed = [lv for lv in cfg.budget_levels if pct >= lv and lv not in state.bt_levels]
    if not crossed:
        return None
    state.bt_levels.extend(crossed)
    level = max(crossed)
    figures = {
        "level_percent": level,
        "used_percent": ratio(pct),
        "spent_usd": usd(spent),
        "budget_usd": usd(budget),
    }
    return Hit(
        "budget_threshold",
        _LEVEL_SEVERITY.get(level, "critical"),
        f"Monthly budget {level}% used",
        f"{usd(spent)} of the monthly budget of {usd(budget)} is spent ({pct:.0f}%).",
        figures,
        cond=f"budget_threshold:L{level}",
        period=from_ts(state.mo_key).strftime("%Y-%m"),
    )


@dataclass(frozen=True, slots=True)
class Burn:
    usd_per_day: float  # micros per day at the rate of the 24 complete hours before now
    days_until_empty: float | None  # None without a budget or without spend
    days_left: float
    remaining: int | None


def burn(state: AgentSignalState, ctx: AgentContext, now: int) -> Burn:
    rate = float(spend_prev_24h(state))
    days_left = max(state.mo_end - now, 0) / DAY
    budget = ctx.monthly_cap
    if not budget:
        return Burn(rate, None, days_left, None)
    remaining = budget - month_to_date(state, ctx)
    until = 0.0 if remaining <= 0 else (remaining / rate if rate > 0 else None)
    return Burn(rate, until, days_left, remaining)


def check_burn(state: AgentSignalState, b: Burn, now: int, cfg: SignalConfig) -> Hit | None:
    if b.days_until_empty is None or b.remaining is None:
        return None
    if state.first_ts < 0 or now - state.first_ts < cfg.budget_burn_min_history_hours * 3600:
        return None
    if b.days_until_empty >= b.days_left:
        return None
    figures = {
        "burn_usd_per_day": usd(b.usd_per_day),
        "remaining_usd": usd(max(b.remaining, 0)),
        "days_until_empty": ratio(b.days_until_empty),
        "days_left_in_month": ratio(b.days_left),
    }
    return Hit(
        "budget_burn",
        "warning",
        "Monthly budget will run out early",
        f"At {usd(b.usd_per_day)} $/day the monthly budget is empty in {b.days_until_empty:.1f} days; "
        f"the month has {b.days_left:.1f} left.",
        figures,
        period=from_ts(state.mo_key).strftime("%Y-%m"),
    )


@dataclass(frozen=True, slots=True)
class Forecast:
    spend_to_date: int
    daily_average: float
    recent_daily_average: float | None  # None without enough complete days of history
    projected: float
    trend_adjusted: float | None


def forecast(state: AgentSignalState, ctx: AgentContext, now: int, cfg: SignalConfig) -> Forecast:
    mtd = month_to_date(state, ctx)
    elapsed = max((now - state.mo_key) / DAY, 1.0)
    days_left = max(state.mo_end - now, 0) / DAY
    daily = mtd / elapsed
    today, n = now // DAY, min(cfg.forecast_recent_days, DAY_SLOTS - 1)
    recent: float | None = None
    if 0 <= state.first_ts <= (today - n) * DAY and n > 0:
        recent = sum(state.d_spend[d % DAY_SLOTS] for d in range(today - n, today)) / n
    trend = mtd + recent * days_left if recent is not None else None
    return Forecast(mtd, daily, recent, mtd + daily * days_left, trend)


def check_forecast(state: AgentSignalState, f: Forecast, ctx: AgentContext) -> Hit | None:
    budget = ctx.monthly_cap
    if not budget or f.trend_adjusted is None or f.trend_adjusted <= budget:
        return None
    figures = {
        "spend_to_date_usd": usd(f.spend_to_date),
        "daily_average_usd": usd(f.daily_average),
        "recent_daily_average_usd": usd(f.recent_daily_average or 0),
        "projected_usd": usd(f.projected),
        "trend_adjusted_usd": usd(f.trend_adjusted),
        "monthly_cap_usd": usd(budget),
    }
    return Hit(
        "forecast_overrun",
        "warning",
        "Month-end forecast exceeds the monthly cap",
        f"Trend-adjusted month-end spend {usd(f.trend_adjusted)} exceeds the cap of {usd(budget)}.",
        figures,
        period=from_ts(state.mo_key).strftime("%Y-%m"),
    )
