from __future__ import annotations

from datetime import timedelta

from spendwarden.signals import ActiveHours, AgentContext
from tests.signals.factories import MONDAY, Feed, history

OFFICE = ActiveHours.from_json({"tz": "UTC", "days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"})
WEDNESDAY = MONDAY + timedelta(days=2)


def test_new_vendor_after_learning_fires_once() -> None:
    feed = Feed()
    history(feed, days=2, per_min=0.5, vendor="openai", tool="search")
    feed.txn(WEDNESDAY + timedelta(hours=9), 20_000, vendor="acme-data", tool="search")
    feed.txn(WEDNESDAY + timedelta(hours=9, minutes=1), 20_000, vendor="acme-data", tool="search")
    alert = feed.only("new_endpoint")
    assert alert.severity == "info"
    assert alert.figures == {
        "kind": "vendor",
        "name": "acme-data",
        "known": 1,
        "amount_usd": "0.020000",
        "rail": "llm_api",
    }


def test_nothing_is_new_during_the_learning_period() -> None:
    feed = Feed()
    history(feed, days=1, per_min=0.5, vendor="openai")  # 240 events but < 24 h
    feed.txn(MONDAY + timedelta(hours=17), vendor="acme-data", endpoint="https://acme/x", tool="t")
    assert "new_endpoint" not in feed.rules()


def test_known_names_are_not_news() -> None:
    feed = Feed()
    history(
        feed, days=2, per_min=0.5, vendor="openai", endpoint="https://api.openai.com/v1/chat", tool="chat"
    )
    feed.reset_log()
    feed.txn(
        WEDNESDAY + timedelta(hours=9),
        vendor="openai",
        endpoint="https://api.openai.com/v1/chat",
        tool="chat",
    )
    assert "new_endpoint" not in feed.rules()


def test_spend_outside_active_hours_fires_once_per_episode() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", active_hours=OFFICE))
    night = WEDNESDAY + timedelta(hours=2)
    feed.txn(night, 30_000)
    feed.txn(night + timedelta(minutes=5), 30_000)
    alert = feed.only("off_hours")
    assert alert.figures["amount_usd"] == "0.030000"
    assert alert.figures["active_hours"]["start"] == "08:00"
    feed.tick(night + timedelta(minutes=30))  # quiet for 15 min: the episode is over
    assert [r.rule for r in feed.cleared] == ["off_hours"]


def test_spend_inside_active_hours_is_quiet() -> None:
    feed = Feed(ctx=AgentContext(agent_id="a", active_hours=OFFICE))
    feed.txn(WEDNESDAY + timedelta(hours=8), 30_000)
    feed.txn(WEDNESDAY + timedelta(hours=19, minutes=59), 30_000)
    assert feed.fired == []
    feed.txn(MONDAY + timedelta(days=5, hours=10), 30_000)  # Saturday
    assert feed.rules() == ["off_hours"]


def test_overnight_window_and_timezone() -> None:
    nights = ActiveHours.from_json({"tz": "America/New_York", "days": [0], "start": "22:00", "end": "06:00"})
    # Monday 23:00 in New York is Tuesday 03:00 UTC; Tuesday 05:00 NY still belongs to Monday's window.
    assert nights.contains(MONDAY + timedelta(days=1, hours=3))
    assert nights.contains(MONDAY + timedelta(days=1, hours=9))
    assert not nights.contains(MONDAY + timedelta(days=1, hours=11))
    assert not nights.contains(MONDAY + timedelta(days=2, hours=3))  # Tuesday night: not a working night
    assert nights.to_json() == {"tz": "America/New_York", "days": [0], "start": "22:00", "end": "06:00"}


def test_one_tool_taking_most_of_the_spend_fires() -> None:
    feed = Feed()
    for i in range(40):
        feed.txn(MONDAY + timedelta(minutes=i), 50_000, tool="browser" if i % 10 < 6 else "search")
    alert = feed.only("tool_concentration")
    assert alert.figures["tool"] == "browser"
    assert alert.figures["share_24h"] > 0.5
    assert float(alert.figures["spend_24h_usd"]) >= 1.0


def test_balanced_tools_or_small_spend_stay_quiet() -> None:
    feed = Feed()
    for i in range(60):
        feed.txn(MONDAY + timedelta(minutes=i), 50_000, tool=("browser", "search", None)[i % 3])
    assert "tool_concentration" not in feed.rules()
    small = Feed()
    for i in range(10):
        small.txn(MONDAY + timedelta(minutes=i), 50_000, tool="browser")  # $0.50 < $1 minimum
    assert small.fired == []
