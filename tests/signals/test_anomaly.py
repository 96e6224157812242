from __future__ import annotations

from datetime import timedelta

from spendwarden.signals import DEFAULT_CONFIG
from spendwarden.signals.anomaly import check, measure
from spendwarden.signals.rails import RailMix
from spendwarden.signals.state import AgentSignalState
from spendwarden.signals.velocity import Velocity
from tests.signals.factories import MONDAY, Feed, every


def _velocity(ratio: float) -> Velocity:
    return Velocity(ratio * 2_000_000, 2_000_000.0, ratio, True)


def test_velocity_five_times_plus_rail_shift_flags_for_review() -> None:
    mix = RailMix("x402", 0.95, 0.0, 0.9, True, 5_000_000)
    a = measure(AgentSignalState(), _velocity(5.0), mix, DEFAULT_CONFIG)
    hit = check(a, DEFAULT_CONFIG)
    assert hit is not None and hit.rule == "anomaly_score"
    assert hit.figures == {
        "score": 0.7,
        "threshold": 0.7,
        "velocity_ratio": 5.0,
        "rail_shift": 1.0,
        "burn_acceleration": 0.0,
    }


def test_velocity_with_a_small_mix_change_is_below_the_bar() -> None:
    mix = RailMix("llm_api", 0.7, 0.6, 0.2, False, 5_000_000)
    a = measure(AgentSignalState(), _velocity(4.0), mix, DEFAULT_CONFIG)
    assert round(a.score, 4) == round(0.4 * 0.8 + 0.3 * 0.2, 4)
    assert check(a, DEFAULT_CONFIG) is None


def test_burn_acceleration_counts() -> None:
    state = AgentSignalState()
    state.d_prior_avg = 10_000_000.0
    state.h_spend[0] = 25_000_000  # 2.5x the usual day within 24 h
    a = measure(state, _velocity(5.0), None, DEFAULT_CONFIG)
    assert a.burn_acceleration == 1.5
    assert check(a, DEFAULT_CONFIG) is not None


def test_spike_with_rail_shift_is_flagged_end_to_end() -> None:
    feed = Feed()
    for i, at in enumerate(every(MONDAY + timedelta(hours=8), 8 * 60, 2)):
        feed.txn(at, 10_000, rail="stripe" if i % 10 == 0 else "llm_api")
    for at in every(MONDAY + timedelta(days=1, hours=9), 15, 4):
        feed.txn(at, 60_000, rail="x402")
    alert = feed.only("anomaly_score")
    assert alert.figures["score"] >= 0.7
    assert alert.figures["rail_shift"] == 1.0
    assert {"velocity_spike", "rail_shift"} <= set(feed.rules())
