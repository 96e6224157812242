"""``agent_profile``: the live figures behind the signals, for analytics and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spendwarden.signals import anomaly, baseline, budget, quality, rails, tasks, velocity
from spendwarden.signals.alerts import ratio, usd
from spendwarden.signals.config import DEFAULT_CONFIG, SignalConfig, effective
from spendwarden.signals.facts import AgentContext, to_ts
from spendwarden.signals.loops import tx_rate
from spendwarden.signals.record import advance_to
from spendwarden.signals.state import AgentSignalState


def agent_profile(
    state: AgentSignalState, ctx: AgentContext, now: datetime, cfg: SignalConfig = DEFAULT_CONFIG
) -> dict[str, Any]:
    """Velocity and baseline, tx rate, rail and tool mix, retry cost, failure rate, burn,
    forecast, cost per task and the anomaly score at ``now``. Does not change ``state``."""
    cfg = effective(cfg, dict(ctx.overrides)) if ctx.overrides else cfg
    s, ts = state.copy(), to_ts(now)
    advance_to(s, ts, cfg)
    v = velocity.measure(s, ctx.tier, cfg)
    mix = rails.measure(s, cfg)
    q = quality.measure(s, cfg)
    burn = budget.burn(s, ctx, ts)
    return {
        "velocity_usd_per_hour": usd(v.usd_per_hour),
        "baseline_usd_per_hour": usd(v.baseline),
        "velocity_ratio": ratio(v.ratio),
        "baseline_source": "adaptive" if v.adaptive else "tier_prior",
        "baseline_hours": s.b_hours,
        "tx_per_min": tx_rate(s),
        "baseline_tx_per_min": ratio(baseline.tx_per_min(s, ctx.tier, cfg)),
        "rail_mix_last_hour": {k: ratio(x) for k, x in rails.shares(s.r_tot).items()},
        "rail_mix_baseline": {k: ratio(x) for k, x in sorted(s.b_rails.items())},
        "tool_mix_24h": _tool_mix(s),
        "retry_cost_ratio": ratio(q.retry_ratio),
        "failure_rate": ratio(q.failure_rate),
        "calls_in_window": q.calls,
        "burn_usd_per_day": usd(burn.usd_per_day),
        "days_until_empty": ratio(burn.days_until_empty) if burn.days_until_empty is not None else None,
        "days_left_in_month": ratio(burn.days_left),
        "forecast": _forecast(s, ctx, ts, cfg),
        **_cost_per_task(s, cfg),
        "anomaly_score": ratio(anomaly.measure(s, v, mix, cfg).score),
        "open_tasks": len(s.tasks),
        "active_conditions": sorted(s.active),
    }


def _tool_mix(s: AgentSignalState) -> dict[str, float]:
    total = sum(s.h_spend)
    return {k: ratio(x / total) for k, x in sorted(s.t_tot.items())} if total > 0 else {}


def _forecast(s: AgentSignalState, ctx: AgentContext, ts: int, cfg: SignalConfig) -> dict[str, Any]:
    f = budget.forecast(s, ctx, ts, cfg)
    return {
        "spend_to_date_usd": usd(f.spend_to_date),
        "daily_average_usd": usd(f.daily_average),
        "recent_daily_average_usd": usd(f.recent_daily_average)
        if f.recent_daily_average is not None
        else None,
        "projected_usd": usd(f.projected),
        "trend_adjusted_usd": usd(f.trend_adjusted) if f.trend_adjusted is not None else None,
    }


def _cost_per_task(s: AgentSignalState, cfg: SignalConfig) -> dict[str, Any]:
    rc, rn, pc, pn = tasks.cost_windows(s, cfg) if s.k_head >= 0 else (0, 0, 0, 0)
    recent = rc / rn if rn else None
    prior = pc / pn if pn else None
    change = recent / prior - 1 if recent is not None and prior else None
    return {
        "cost_per_task_usd": usd(recent) if recent is not None else None,
        "prior_cost_per_task_usd": usd(prior) if prior is not None else None,
        "cost_per_task_change": ratio(change) if change is not None else None,
        "completed_tasks": rn,
    }
