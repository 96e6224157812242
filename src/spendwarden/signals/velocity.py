"""``velocity_spike``: spend over the last 15 minutes, as $/h, against the agent's baseline."""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.signals import baseline
from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.state import AgentSignalState, ring_sum


@dataclass(frozen=True, slots=True)
class Velocity:
    usd_per_hour: float  # micros per hour over the window
    baseline: float  # micros per active hour
    ratio: float
    adaptive: bool  # False while the tier prior stands in


def measure(state: AgentSignalState, tier: str, cfg: SignalConfig) -> Velocity:
    window = cfg.velocity_window_minutes
    rate = ring_sum(state.m_spend, state.m_head, state.m_head, window) * 60 / window
    base = baseline.usd_per_hour(state, tier, cfg)
    return Velocity(rate, base, rate / max(base, 1.0), baseline.mature(state, cfg))


def check(v: Velocity, cfg: SignalConfig) -> Hit | None:
    if v.usd_per_hour < cfg.velocity_min_usd_per_hour or v.ratio <= cfg.velocity_ratio:
        return None
    figures = {
        "velocity_usd_per_hour": usd(v.usd_per_hour),
        "baseline_usd_per_hour": usd(v.baseline),
        "ratio": ratio(v.ratio),
        "threshold_ratio": cfg.velocity_ratio,
        "window_minutes": cfg.velocity_window_minutes,
        "baseline_source": "adaptive" if v.adaptive else "tier_prior",
    }
    return Hit(
        "velocity_spike",
        "warning",
        "Spend velocity spike",
        f"Spending {usd(v.usd_per_hour)} $/h, {v.ratio:.1f}x the baseline of {usd(v.baseline)} $/h.",
        figures,
    )
