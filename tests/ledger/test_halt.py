"""The tier presets' auto-halt rules as pure decisions, with their figures."""

from __future__ import annotations

import pytest

from spendwarden.ledger.halt import HaltHistory, evaluate_halt_rules, validate_halt_rules
from spendwarden.ledger.tiers import preset_halt_rules
from spendwarden.money import usd


def hist(
    amount: str, today: str = "0", prior: str = "0", hour: str = "0", previous: list[str] | None = None
) -> HaltHistory:
    return HaltHistory(
        amount=usd(amount),
        today=usd(today),
        prior_day=usd(prior),
        this_hour=usd(hour),
        previous_hours=[usd(p) for p in previous or []],
    )


def test_tier_presets() -> None:
    assert preset_halt_rules("experimental") == {"max_single_charge": 1_000_000}
    assert preset_halt_rules("staging") == {"daily_vs_prior_day": 1.5}
    assert preset_halt_rules("production") == {"hourly_vs_rolling_avg": 3.0}
    assert preset_halt_rules("custom") == {}


def test_experimental_halts_on_a_charge_over_one_dollar() -> None:
    rules = preset_halt_rules("experimental")
    decision = evaluate_halt_rules(rules, hist("1.01"))
    assert decision is not None and decision.rule == "max_single_charge"
    assert decision.figures == {"amount_usd": "1.010000", "limit_usd": "1.000000"}
    assert evaluate_halt_rules(rules, hist("1.00")) is None


def test_staging_halts_past_150_percent_of_the_prior_day() -> None:
    rules = preset_halt_rules("staging")
    decision = evaluate_halt_rules(rules, hist("1.01", today="15.01", prior="10"))
    assert decision is not None and decision.rule == "daily_vs_prior_day"
    assert decision.figures == {
        "today_usd": "15.010000",
        "prior_day_usd": "10.000000",
        "ratio": 1.501,
        "threshold": 1.5,
    }
    assert evaluate_halt_rules(rules, hist("1", today="15", prior="10")) is None
    assert evaluate_halt_rules(rules, hist("100", today="100", prior="0")) is None


def test_production_needs_a_baseline_of_active_hours_before_it_halts() -> None:
    rules = preset_halt_rules("production")
    young = ["2"] * 5 + ["0"] * 19
    assert evaluate_halt_rules(rules, hist("50", hour="50", previous=young)) is None
    office = ["2"] * 8 + ["0"] * 16  # nights are idle: the average is over working hours
    decision = evaluate_halt_rules(rules, hist("1", hour="6.01", previous=office))
    assert decision is not None and decision.rule == "hourly_vs_rolling_avg"
    assert decision.figures["rolling_avg_usd"] == "2.000000"
    assert decision.figures["ratio"] == 3.005
    assert evaluate_halt_rules(rules, hist("1", hour="6.00", previous=office)) is None


def test_a_tiny_baseline_is_floored() -> None:
    rules = {"hourly_vs_rolling_avg": 3.0}
    pennies = ["0.001"] * 24
    assert evaluate_halt_rules(rules, hist("0.2", hour="0.29", previous=pennies)) is None
    assert evaluate_halt_rules(rules, hist("0.2", hour="0.31", previous=pennies)) is not None


@pytest.mark.parametrize(
    "rules",
    [
        {"nope": 1},
        {"max_single_charge": -1},
        {"max_single_charge": 0.5},
        {"daily_vs_prior_day": "1.5"},
        {"hourly_vs_rolling_avg": True},
    ],
)
def test_invalid_rules_are_refused(rules: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        validate_halt_rules(rules)


def test_valid_rules_and_null_pass() -> None:
    validate_halt_rules({"max_single_charge": 1_000_000, "daily_vs_prior_day": None, "rolling_hours": 12})
