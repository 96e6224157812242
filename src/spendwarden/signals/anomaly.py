"""``anomaly_score``: one number for "a person should look at this agent".

score = 0.4·min(velocity_ratio / 5, 1) + 0.3·rail_shift + 0.3·min(burn_acceleration, 1),
where rail_shift is 1 when ``rail_shift`` holds and otherwise the mix's total variation
distance, and burn_acceleration is how far the last 24 hours' spend (plus the current hour)
exceeds the average of the agent's prior active days (0 when it does not). The velocity
term counts only above ``velocity_min_usd_per_hour``.
"""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.signals.alerts import Hit, ratio
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.rails import RailMix
from spendwarden.signals.state import AgentSignalState
from spendwarden.signals.velocity import Velocity


@dataclass(frozen=True, slots=True)
class Anomaly:
    score: float
    velocity_ratio: float
    rail_shift: float
    burn_acceleration: float


def burn_acceleration(state: AgentSignalState) -> float:
    prior = state.d_prior_avg
    if prior <= 0:
        return 0.0
    return max(sum(state.h_spend) / prior - 1.0, 0.0)


def measure(state: AgentSignalState, v: Velocity, mix: RailMix | None, cfg: SignalConfig) -> Anomaly:
    vr = v.ratio if v.usd_per_hour >= cfg.velocity_min_usd_per_hour else 0.0
    rail = mix.score if mix is not None else 0.0
    accel = burn_acceleration(state)
    score = (
        cfg.anomaly_weight_velocity * min(vr / cfg.anomaly_velocity_cap, 1.0)
        + cfg.anomaly_weight_rail * rail
        + cfg.anomaly_weight_burn * min(accel, 1.0)
    )
    return Anomaly(score, vr, rail, accel)


def could_fire(v: Velocity, mix: RailMix | None, cfg: SignalConfig) -> bool:
    """False when the score cannot reach the threshold even with the burn term at its
    maximum (the velocity and rail terms are computed exactly as ``measure`` does, and
    float addition is monotone), so ``check(measure(...))`` would return None."""
    if cfg.anomaly_weight_burn < 0:
        return True
    vr = v.ratio if v.usd_per_hour >= cfg.velocity_min_usd_per_hour else 0.0
    rail = mix.score if mix is not None else 0.0
    bound = (
        cfg.anomaly_weight_velocity * min(vr / cfg.anomaly_velocity_cap, 1.0)
        + cfg.anomaly_weight_rail * rail
        + cfg.anomaly_weight_burn * 1.0
    )
    return not bound < cfg.anomaly_threshold


def check(a: Anomaly, cfg: SignalConfig) -> Hit | None:
    if a.score < cfg.anomaly_threshold:
        return None
    figures = {
        "score": ratio(a.score),
        "threshold": cfg.anomaly_threshold,
        "velocity_ratio": ratio(a.velocity_ratio),
        "rail_shift": ratio(a.rail_shift),
        "burn_acceleration": ratio(a.burn_acceleration),
    }
    return Hit(
        "anomaly_score",
        "warning",
        "Anomalous behaviour: review",
        f"Anomaly score {a.score:.2f} (velocity x{a.velocity_ratio:.1f}, rail shift {a.rail_shift:.2f}, "
        f"burn acceleration {a.burn_acceleration:.2f}).",
        figures,
    )
