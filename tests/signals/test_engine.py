from __future__ import annotations

from datetime import timedelta

import pytest

from spendwarden.signals import (
    RULES,
    AgentContext,
    SignalConfig,
    agent_profile,
    effective,
    validate_overrides,
)
from tests.signals.factories import MONDAY, Feed, history

TUESDAY_NINE = MONDAY + timedelta(days=1, hours=9)


def _story(feed: Feed) -> None:
    history(feed, per_min=2, tool="search")
    feed.task("started", "t1", TUESDAY_NINE, scope={"max_tool_calls": 2})
    feed.steady(TUESDAY_NINE, 15, 12, amount=60_000, tool="browser", task_id="t1", rail="x402")
    feed.tick(TUESDAY_NINE + timedelta(hours=2))


def test_replaying_the_same_events_gives_the_same_alerts() -> None:
    a, b = Feed(), Feed()
    _story(a)
    _story(b)
    assert [x.dedupe_key for x in a.fired] == [x.dedupe_key for x in b.fired]
    assert a.fired == b.fired and a.cleared == b.cleared
    assert a.state.to_json() == b.state.to_json()
    assert {"velocity_spike", "runaway_loop", "rail_shift", "task_scope", "silence"} <= set(a.rules())


def test_a_persisting_condition_fires_once_and_resolves_once() -> None:
    feed = Feed()
    _story(feed)
    for rule in ("velocity_spike", "runaway_loop", "rail_shift"):
        fired = [x.dedupe_key for x in feed.fired if x.rule == rule]
        cleared = [x.dedupe_key for x in feed.cleared if x.rule == rule]
        assert len(fired) == 1 and cleared == fired, rule


def test_per_agent_overrides_change_thresholds() -> None:
    strict = Feed(ctx=AgentContext(agent_id="a", tier="production", overrides={"velocity_ratio": 2.0}))
    loose = Feed(ctx=AgentContext(agent_id="b", tier="production"))
    for feed in (strict, loose):
        history(feed, per_min=2, amount=10_000)
        feed.steady(TUESDAY_NINE, 15, 2, amount=25_000)  # 2.5x
    assert "velocity_spike" in strict.rules()
    assert "velocity_spike" not in loose.rules()
    assert effective(SignalConfig(), {"silence_minutes": 30}).silence_minutes == 30


def test_overrides_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown"):
        validate_overrides({"velocity": 2})
    with pytest.raises(ValueError, match="number"):
        validate_overrides({"velocity_ratio": "2"})
    with pytest.raises(ValueError, match="whole"):
        validate_overrides({"failure_min_calls": 2.5})
    with pytest.raises(ValueError, match="range"):
        validate_overrides({"quality_window_minutes": 120})


def test_voided_and_refunded_rows_are_not_spend() -> None:
    feed = Feed()
    feed.txn(MONDAY, 50_000_000, status="voided")
    feed.txn(MONDAY, 50_000_000, status="refunded")
    assert feed.state.n_events == 0 and feed.fired == []


def test_every_rule_of_the_design_has_an_id() -> None:
    assert set(RULES) >= {"cap_breach", "auto_halt", "payment_loop"} and len(RULES) == 19


def test_agent_profile_shows_the_live_figures_without_changing_state() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", tier="production", caps={"monthly": 500_000_000}))
    history(feed, per_min=2, amount=10_000, tool="search")
    before = feed.state.to_json()
    profile = agent_profile(feed.state, feed.ctx, MONDAY + timedelta(hours=15, minutes=59))
    assert feed.state.to_json() == before
    assert profile["baseline_source"] == "adaptive"
    assert profile["baseline_usd_per_hour"] == "1.200000"
    assert profile["velocity_usd_per_hour"] == "1.200000"
    assert profile["velocity_ratio"] == 1.0
    assert profile["baseline_tx_per_min"] == 2.0
    assert profile["rail_mix_last_hour"] == {"llm_api": 1.0}
    assert profile["tool_mix_24h"] == {"search": 1.0}
    assert profile["retry_cost_ratio"] == 0.0 and profile["failure_rate"] == 0.0
    assert profile["days_until_empty"] is not None
    assert profile["anomaly_score"] < 0.7
    assert set(profile) >= {"burn_usd_per_day", "forecast", "cost_per_task_usd", "cost_per_task_change"}
