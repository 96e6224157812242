from __future__ import annotations

from datetime import timedelta

from spendwarden.signals import AgentContext, SignalConfig, TierPrior
from tests.signals.factories import MONDAY, Feed, history

TUESDAY = MONDAY + timedelta(days=1)


def _research() -> Feed:
    feed = Feed()
    history(feed, days=1, per_min=2, amount=10_000)  # $1.20 per active hour
    return feed


def test_spend_spike_fires_with_its_figures() -> None:
    feed = _research()
    feed.steady(TUESDAY + timedelta(hours=8), 15, 2, amount=50_000)
    alert = feed.only("velocity_spike")
    assert alert.severity == "warning"
    assert alert.figures["baseline_usd_per_hour"] == "1.200000"
    assert alert.figures["baseline_source"] == "adaptive"
    assert alert.figures["ratio"] > 3
    assert float(alert.figures["velocity_usd_per_hour"]) > 3 * 1.2
    assert alert.dedupe_key == "velocity_spike:agent-1:20260602T0809Z"


def test_a_busier_but_normal_day_stays_quiet() -> None:
    feed = _research()
    feed.steady(TUESDAY + timedelta(hours=8), 60, 2, amount=25_000)  # 2.5x the baseline
    assert "velocity_spike" not in feed.rules()


def test_spike_resolves_when_spending_calms_down() -> None:
    feed = _research()
    feed.steady(TUESDAY + timedelta(hours=8), 15, 2, amount=50_000)
    key = feed.only("velocity_spike").dedupe_key
    feed.tick(TUESDAY + timedelta(hours=8, minutes=40))
    assert [r.dedupe_key for r in feed.cleared if r.rule == "velocity_spike"] == [key]
    assert "velocity_spike" not in feed.state.active


def test_new_agent_is_judged_against_its_tier_prior() -> None:
    feed = Feed(ctx=AgentContext(agent_id="new", tier="experimental"))  # prior $0.50/h
    feed.steady(MONDAY, 15, 1, amount=50_000)  # $3/h
    alert = feed.only("velocity_spike")
    assert alert.figures["baseline_source"] == "tier_prior"
    assert alert.figures["baseline_usd_per_hour"] == "0.500000"


def test_tier_prior_of_production_tolerates_the_same_spend() -> None:
    feed = Feed(ctx=AgentContext(agent_id="new", tier="production"))  # prior $25/h
    feed.steady(MONDAY, 15, 1, amount=50_000)
    assert feed.fired == []


def test_tiny_spend_below_the_floor_never_spikes() -> None:
    cfg = SignalConfig(tier_priors=(TierPrior("experimental", 100_000, 2.0),))  # prior $0.10/h
    feed = Feed(ctx=AgentContext(agent_id="new", tier="experimental"), cfg=cfg)
    feed.steady(MONDAY, 15, 1, amount=15_000)  # $0.90/h: 9x the prior, under the $1/h floor
    assert "velocity_spike" not in feed.rules()
