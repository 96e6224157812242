"""Thresholds of every signal: fleet-wide defaults (DESIGN.md §3) plus per-agent overrides.

``SignalConfig`` is frozen and hashable, so the per-agent view ``effective(cfg, overrides)``
is cached: an agent with overrides pays for building its config once, not per event.
Overrides are a plain ``{field name: number}`` dict stored on the agent; unknown names and
wrong types are refused by ``validate_overrides`` (call it where the admin edits them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class TierPrior:
    """What a brand-new agent of a tier is assumed to do until it has its own history."""

    tier: str
    usd_per_hour: int  # micros per active hour
    tx_per_min: float  # transactions per active minute


DEFAULT_TIER_PRIORS: tuple[TierPrior, ...] = (
    TierPrior("experimental", 500_000, 2.0),
    TierPrior("staging", 5 * MICROS, 5.0),
    TierPrior("production", 25 * MICROS, 10.0),
    TierPrior("custom", 5 * MICROS, 5.0),
)


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """Every threshold of DESIGN.md §3. Amounts are micros; shares and ratios are fractions."""

    # Adaptive baselines: EWMA over *active* hours (hours with at least one transaction).
    baseline_alpha: float = 0.1
    baseline_min_hours: int = 6  # active hours of history before the EWMA replaces the tier prior
    baseline_clamp: float = 5.0  # an hour folds in at most this many times the baseline (robustness)
    tier_priors: tuple[TierPrior, ...] = DEFAULT_TIER_PRIORS
    # velocity_spike
    velocity_window_minutes: int = 15
    velocity_ratio: float = 3.0
    velocity_min_usd_per_hour: int = 1 * MICROS
    # runaway_loop
    runaway_ratio: float = 5.0
    runaway_min_tx_per_min: int = 10
    runaway_identical: int = 30
    runaway_identical_baseline_factor: float = 3.0  # identical threshold ≥ factor x baseline tx in 10 min
    # rail_shift
    rail_shift_share: float = 0.8
    rail_shift_baseline_share: float = 0.3
    rail_shift_tvd: float = 0.5
    rail_shift_min_spend: int = 1 * MICROS
    rail_shift_min_tx: int = 10
    # anomaly_score
    anomaly_weight_velocity: float = 0.4
    anomaly_weight_rail: float = 0.3
    anomaly_weight_burn: float = 0.3
    anomaly_velocity_cap: float = 5.0
    anomaly_threshold: float = 0.7
    # budget_burn / forecast_overrun
    budget_burn_min_history_hours: int = 24  # the burn rate is the last 24 complete hours' spend
    forecast_recent_days: int = 3
    # cost_per_task_drift
    drift_ratio: float = 1.2
    drift_window_days: int = 7
    drift_min_tasks: int = 5
    # tool_concentration
    tool_concentration_share: float = 0.5
    tool_concentration_min_spend: int = 1 * MICROS
    # cap_utilization / budget_threshold
    cap_utilization: float = 0.8
    budget_levels: tuple[int, ...] = (50, 75, 90, 100)
    # retry_cost / failure_rate
    quality_window_minutes: int = 15
    retry_cost_share: float = 0.15
    retry_min_spend: int = 500_000
    retry_min_calls: int = 10  # a retry or two among a handful of calls is not a pattern
    failure_rate: float = 0.10
    failure_min_calls: int = 20
    # off_hours
    off_hours_quiet_minutes: int = 15  # an off-hours episode ends after this long without spend
    # new_endpoint
    new_endpoint_learning_hours: int = 24
    new_endpoint_learning_events: int = 50
    # silence
    silence_minutes: int = 15
    # payment_loop
    payment_loop_window_hours: int = 24

    def prior(self, tier: str) -> TierPrior:
        for p in self.tier_priors:
            if p.tier == tier:
                return p
        return self.tier_priors[-1]


DEFAULT_CONFIG = SignalConfig()

_NOT_OVERRIDABLE = frozenset({"tier_priors", "budget_levels"})
_FIELD_TYPES: dict[str, type] = {
    f.name: type(getattr(DEFAULT_CONFIG, f.name))
    for f in fields(SignalConfig)
    if f.name not in _NOT_OVERRIDABLE
}
# Ring sizes in state.py bound these windows.
_MAXIMA = {"velocity_window_minutes": 60, "quality_window_minutes": 60, "off_hours_quiet_minutes": 60}


def validate_overrides(overrides: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first unknown or ill-typed override."""
    for name, value in overrides.items():
        kind = _FIELD_TYPES.get(name)
        if kind is None:
            raise ValueError(f"unknown signal setting {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"signal setting {name!r} must be a number")
        if kind is int and not float(value).is_integer():
            raise ValueError(f"signal setting {name!r} must be a whole number")
        if value < 0 or value > _MAXIMA.get(name, float("inf")):
            raise ValueError(f"signal setting {name!r} is out of range")
        if name.endswith("_minutes") and value < 1:
            raise ValueError(f"signal setting {name!r} must be at least 1")


def effective(cfg: SignalConfig, overrides: dict[str, Any] | None) -> SignalConfig:
    """The config one agent runs with: ``cfg`` with its overrides applied (cached)."""
    if not overrides:
        return cfg
    return _effective(cfg, tuple(sorted(overrides.items())))


@lru_cache(maxsize=4096)
def _effective(cfg: SignalConfig, items: tuple[tuple[str, Any], ...]) -> SignalConfig:
    overrides = dict(items)
    validate_overrides(overrides)
    typed = {k: _FIELD_TYPES[k](v) for k, v in overrides.items()}
    return replace(cfg, **typed)
