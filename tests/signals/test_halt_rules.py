from __future__ import annotations

from datetime import timedelta

import pytest

from spendwarden.money import usd
from spendwarden.signals import (
    HaltHistory,
    auto_halt_alert,
    evaluate_halt_rules,
    halt_history,
    tier_halt_rules,
    validate_halt_rules,
)
from tests.signals.factories import MONDAY, Feed, history, txn

NOON = MONDAY + timedelta(hours=12)


def test_tier_presets() -> None:
    assert tier_halt_rules("experimental") == {"max_single_charge": 1_000_000}
    assert tier_halt_rules("staging") == {"daily_vs_prior_day": 1.5}
    assert tier_halt_rules("production") == {"hourly_vs_rolling_avg": 3.0}
    assert tier_halt_rules("custom") == {}


def test_experimental_halts_on_a_charge_over_one_dollar() -> None:
    rules = tier_halt_rules("experimental")
    decision = evaluate_halt_rules(rules, txn(NOON, usd("1.01")), HaltHistory())
    assert decision is not None and decision.rule == "max_single_charge"
    assert decision.figures == {"amount_usd": "1.010000", "limit_usd": "1.000000"}
    assert evaluate_halt_rules(rules, txn(NOON, usd("1.00")), HaltHistory()) is None
    assert evaluate_halt_rules(rules, txn(NOON, usd("5"), status="voided"), HaltHistory()) is None


def test_staging_halts_past_150_percent_of_the_prior_day() -> None:
    rules = tier_halt_rules("staging")
    past = HaltHistory(today_spend=usd("14"), prior_day_spend=usd("10"))
    decision = evaluate_halt_rules(rules, txn(NOON, usd("1.01")), past)
    assert decision is not None and decision.rule == "daily_vs_prior_day"
    assert decision.figures == {
        "today_usd": "15.010000",
        "prior_day_usd": "10.000000",
        "ratio": 1.501,
        "threshold": 1.5,
    }
    assert evaluate_halt_rules(rules, txn(NOON, usd("1")), past) is None
    assert evaluate_halt_rules(rules, txn(NOON, usd("100")), HaltHistory(prior_day_spend=0)) is None


def test_production_halts_past_three_times_the_rolling_hourly_average() -> None:
    rules = tier_halt_rules("production")
    past = HaltHistory(hour_spend=usd("5"), rolling_hourly_avg=2_000_000.0)
    decision = evaluate_halt_rules(rules, txn(NOON, usd("1.5")), past)
    assert decision is not None and decision.rule == "hourly_vs_rolling_avg"
    assert decision.figures["hour_usd"] == "6.500000"
    assert decision.figures["rolling_hourly_avg_usd"] == "2.000000"
    assert evaluate_halt_rules(rules, txn(NOON, usd("0.5")), past) is None
    assert evaluate_halt_rules(rules, txn(NOON, usd("50")), HaltHistory(rolling_hourly_avg=None)) is None


def test_halt_history_reads_the_signal_state() -> None:
    feed = Feed()
    history(feed, days=1, per_min=2, amount=10_000)  # $9.60 on Monday, $1.20 per active hour
    tuesday = MONDAY + timedelta(days=1, hours=9)
    feed.steady(tuesday, 10, 2, amount=10_000)
    h = halt_history(feed.state, tuesday + timedelta(minutes=10))
    assert h.prior_day_spend == usd("9.6")
    assert h.today_spend == usd("0.2")
    assert h.hour_spend == usd("0.2")
    assert h.rolling_hourly_avg == pytest.approx(1_200_000)


def test_auto_halt_alert_carries_the_decision() -> None:
    decision = evaluate_halt_rules(tier_halt_rules("experimental"), txn(NOON, usd("2")), HaltHistory())
    assert decision is not None
    alert = auto_halt_alert("a", decision.rule, decision.figures, NOON)
    assert alert.rule == "auto_halt" and alert.severity == "critical"
    assert alert.figures["halt_rule"] == "max_single_charge"
    assert alert.dedupe_key == "auto_halt:a:max_single_charge:20260601T1200Z"


def test_halt_rules_are_validated() -> None:
    validate_halt_rules({"max_single_charge": 5, "daily_vs_prior_day": None})
    with pytest.raises(ValueError, match="unknown"):
        validate_halt_rules({"max_single": 5})
    with pytest.raises(ValueError, match="positive"):
        validate_halt_rules({"hourly_vs_rolling_avg": -1})
