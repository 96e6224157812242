from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from spendwarden.money import usd
from spendwarden.signals import AgentContext
from tests.signals.factories import MONDAY, Feed, every

JUNE_10 = MONDAY + timedelta(days=9)


def _steady_month(monthly_cap: int) -> Feed:
    """$1.50/h around the clock from June 1: $36/day, $324 by June 10 with 21 days left."""
    feed = Feed(ctx=AgentContext(agent_id="a", tier="production", caps={"monthly": monthly_cap}))
    for at in every(MONDAY, 9 * 24 * 60, 0.1):
        feed.txn(at, 250_000)
    feed.reset_log()
    return feed


def test_budget_burn_fires_when_the_budget_runs_out_before_the_month() -> None:
    feed = _steady_month(usd("900"))
    feed.tick(JUNE_10)
    alert = feed.only("budget_burn")
    assert alert.figures == {
        "burn_usd_per_day": "36.000000",
        "remaining_usd": "576.000000",
        "days_until_empty": 16.0,
        "days_left_in_month": 21.0,
    }
    assert alert.dedupe_key == "budget_burn:a:2026-06"


def test_budget_that_lasts_the_month_is_quiet() -> None:
    feed = _steady_month(usd("1200"))
    feed.tick(JUNE_10)
    assert feed.fired == []


def test_forecast_overrun_projects_the_trend_to_month_end() -> None:
    feed = _steady_month(usd("1000"))
    feed.tick(JUNE_10)
    alert = feed.only("forecast_overrun")
    assert alert.figures["spend_to_date_usd"] == "324.000000"
    assert alert.figures["recent_daily_average_usd"] == "36.000000"
    assert alert.figures["trend_adjusted_usd"] == "1080.000000"
    assert alert.figures["monthly_cap_usd"] == "1000.000000"
    assert "budget_burn" in feed.rules()  # a steady rate: $676 left lasts 18.8 of the 21 days
    assert alert.severity == "warning"


def test_forecast_under_the_cap_is_quiet() -> None:
    feed = _steady_month(usd("1100"))
    feed.tick(JUNE_10)
    assert "forecast_overrun" not in feed.rules()


def _cap_feed(spent: int) -> Feed:
    return Feed(
        ctx=AgentContext(agent_id="a", caps={"daily": usd("10"), "monthly": None}, cap_spend={"daily": spent})
    )


def test_cap_over_80_percent_used_fires_once_and_resolves_next_window() -> None:
    feed = _cap_feed(usd("8.5"))
    feed.txn(MONDAY + timedelta(hours=9), 10_000)
    feed.txn(MONDAY + timedelta(hours=9, minutes=1), 10_000)
    alert = feed.only("cap_utilization")
    assert alert.figures == {
        "cap": "daily",
        "limit_usd": "10.000000",
        "spent_usd": "8.500000",
        "utilization": 0.85,
        "threshold": 0.8,
    }
    assert alert.dedupe_key == "cap_utilization:a:daily:2026-06-01"
    feed.ctx = replace(feed.ctx, cap_spend={"daily": 0})
    feed.tick(MONDAY + timedelta(days=1))
    assert [r.dedupe_key for r in feed.cleared] == [alert.dedupe_key]


def test_cap_at_or_under_80_percent_is_quiet() -> None:
    for spent in (usd("7.9"), usd("8")):
        feed = _cap_feed(spent)
        feed.txn(MONDAY + timedelta(hours=9), 10_000)
        assert feed.fired == []


def test_budget_levels_fire_once_each_per_month() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", caps={"monthly": usd("100")}))
    seen = []
    for minute, spent in enumerate(["40", "55", "60", "80", "80", "95", "100"]):
        feed.ctx = replace(feed.ctx, cap_spend={"monthly": usd(spent)})
        out = feed.txn(MONDAY + timedelta(hours=9, minutes=minute), 1_000)
        seen += [(a.figures["level_percent"], a.severity) for a in out.fired if a.rule == "budget_threshold"]
    assert seen == [(50, "info"), (75, "warning"), (90, "critical"), (100, "critical")]
    keys = [a.dedupe_key for a in feed.fired if a.rule == "budget_threshold"]
    assert keys[0] == "budget_threshold:a:L50:2026-06"
    feed.ctx = replace(feed.ctx, cap_spend={"monthly": usd("60")})
    out = feed.txn(MONDAY + timedelta(days=30, hours=9), 1_000)  # July: a new period
    assert [a.dedupe_key for a in out.fired] == ["budget_threshold:a:L50:2026-07"]


def test_a_jump_past_several_levels_fires_the_highest_only() -> None:
    feed = Feed(
        ctx=AgentContext(agent_id="a", caps={"monthly": usd("100")}, cap_spend={"monthly": usd("92")})
    )
    feed.txn(MONDAY, 1_000)
    assert [a.figures["level_percent"] for a in feed.fired if a.rule == "budget_threshold"] == [90]
