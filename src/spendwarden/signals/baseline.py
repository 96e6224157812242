"""Adaptive per-agent baselines: EWMA of spend per hour, transactions per active minute and
rail shares, folded in once per *active* hour (hours without a transaction are skipped,
so an agent that works office hours is compared with its working hours, not its nights).

Until an agent has ``baseline_min_hours`` active hours of history its tier prior stands
in (``SignalConfig.tier_priors``). The first hours fold with weight ``1/n`` (a plain mean)
so the estimate settles quickly; once mature, an hour counts at most ``baseline_clamp``
times the baseline, so one runaway hour cannot teach the agent that runaways are normal.
"""

from __future__ import annotations

from spendwarden.signals.config import SignalConfig
from spendwarden.signals.state import MAX_RAILS, AgentSignalState

_MIN_SHARE = 0.005  # rail shares below this are dropped from the baseline (bounded size)


def mature(state: AgentSignalState, cfg: SignalConfig) -> bool:
    return state.b_hours >= cfg.baseline_min_hours


def usd_per_hour(state: AgentSignalState, tier: str, cfg: SignalConfig) -> float:
    """Baseline spend in micros per active hour."""
    return state.b_usd_h if mature(state, cfg) else float(cfg.prior(tier).usd_per_hour)


def tx_per_min(state: AgentSignalState, tier: str, cfg: SignalConfig) -> float:
    """Baseline transactions per active minute."""
    return state.b_txm if mature(state, cfg) else cfg.prior(tier).tx_per_min


def fold_hour(state: AgentSignalState, cfg: SignalConfig) -> None:
    """Fold the finished hour (``c_*``) into the baselines; the caller resets it."""
    if state.c_count <= 0:
        return
    n = state.b_hours + 1
    alpha = max(cfg.baseline_alpha, 1.0 / n)
    ripe = mature(state, cfg)
    spend = float(state.c_spend)
    txm = state.c_count / max(state.c_minutes, 1)
    if ripe:
        spend = min(spend, cfg.baseline_clamp * state.b_usd_h) if state.b_usd_h > 0 else spend
        txm = min(txm, cfg.baseline_clamp * state.b_txm) if state.b_txm > 0 else txm
    state.b_usd_h += alpha * (spend - state.b_usd_h)
    state.b_txm += alpha * (txm - state.b_txm)
    _fold_rails(state, alpha)
    state.b_hours = n


def _fold_rails(state: AgentSignalState, alpha: float) -> None:
    total = sum(state.c_rails.values())
    if total <= 0:
        return
    old = state.b_rails
    new = {}
    for rail in sorted(set(old) | set(state.c_rails)):
        value = old.get(rail, 0.0) + alpha * (state.c_rails.get(rail, 0) / total - old.get(rail, 0.0))
        if value >= _MIN_SHARE:
            new[rail] = value
    if len(new) > MAX_RAILS:
        keep = sorted(new, key=lambda r: (-new[r], r))[:MAX_RAILS]
        new = {r: new[r] for r in sorted(keep)}
    state.b_rails = new
