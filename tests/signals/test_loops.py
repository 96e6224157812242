from __future__ import annotations

from datetime import timedelta

from spendwarden.signals import AgentContext, find_payment_cycle, observe_payment_cycle
from tests.signals.factories import MONDAY, Feed, history

TUESDAY = MONDAY + timedelta(days=1)
NINE = TUESDAY + timedelta(hours=9)


def test_research_agent_at_2_per_min_fires_at_10_per_min() -> None:
    feed = Feed()
    history(feed, per_min=2, endpoint="search")
    feed.steady(NINE, 2, 10, endpoint="search")
    alert = feed.only("runaway_loop")
    assert alert.severity == "critical"
    assert alert.figures["tx_per_min"] == 10
    assert alert.figures["baseline_tx_per_min"] == 2.0
    assert alert.figures["ratio"] == 5.0
    assert alert.figures["baseline_source"] == "adaptive"


def test_research_agent_at_8_per_min_is_not_a_loop() -> None:
    feed = Feed()
    history(feed, per_min=2, tool="search", endpoint="https://api.search/a")
    for i, at in enumerate(feed_times := [NINE + timedelta(seconds=7.5 * k) for k in range(8 * 3)]):
        feed.txn(at, tool="search", endpoint=f"https://api.search/{i}")
    assert feed_times and "runaway_loop" not in feed.rules()


def test_crawler_at_20_per_min_does_not_fire_at_30_per_min() -> None:
    feed = Feed(ctx=AgentContext(agent_id="crawler", tier="production"))
    history(feed, per_min=20, tool="fetch", endpoint="https://example.org", amount=1_000)
    feed.steady(NINE, 20, 30, tool="fetch", endpoint="https://example.org", amount=1_000)
    assert "runaway_loop" not in feed.rules()


def test_thirty_identical_requests_in_ten_minutes_fire() -> None:
    feed = Feed()
    history(feed, per_min=1, tool="search", endpoint="e0")
    feed.steady(NINE, 10, 3, tool="search", endpoint="https://api/x", model="m")
    alert = feed.only("runaway_loop")
    assert alert.figures["identical_requests_10min"] == 30
    assert alert.figures["identical_threshold"] == 30
    assert alert.figures["request"] == {"tool": "search", "endpoint": "https://api/x", "model": "m"}


def test_the_same_pace_with_varied_requests_is_quiet() -> None:
    feed = Feed()
    history(feed, per_min=1, tool="search", endpoint="e0")
    for i, at in enumerate(NINE + timedelta(seconds=20 * k) for k in range(30)):
        feed.txn(at, tool="search", endpoint=f"https://api/{i}", model="m")
    assert "runaway_loop" not in feed.rules()


def test_runaway_resolves_after_the_loop_stops() -> None:
    feed = Feed()
    history(feed, per_min=2)
    feed.steady(NINE, 7, 12)  # 84 identical requests: over 3 x 2/min x 10 min
    key = feed.only("runaway_loop").dedupe_key
    feed.tick(NINE + timedelta(minutes=8))
    assert not [r for r in feed.cleared if r.rule == "runaway_loop"]  # identical requests still in 10 min
    feed.tick(NINE + timedelta(minutes=18))
    assert [r.dedupe_key for r in feed.cleared if r.rule == "runaway_loop"] == [key]


def test_payment_cycle_is_found_from_any_member() -> None:
    t = MONDAY
    edges = [
        ("a", "b", t),
        ("b", "c", t + timedelta(hours=1)),
        ("c", "a", t + timedelta(hours=2)),
        ("c", "d", t),
    ]
    now = t + timedelta(hours=3)
    assert find_payment_cycle(edges, "a", now) == ["a", "b", "c", "a"]
    assert find_payment_cycle(edges, "b", now) == ["b", "c", "a", "b"]
    assert find_payment_cycle(edges, "d", now) is None


def test_payments_that_do_not_close_or_are_too_old_are_no_loop() -> None:
    t = MONDAY
    chain = [("a", "b", t), ("b", "c", t), ("c", "d", t), ("a", "a", t)]
    assert find_payment_cycle(chain, "a", t) is None
    old = [("a", "b", t), ("b", "a", t + timedelta(hours=25))]
    assert find_payment_cycle(old, "a", t + timedelta(hours=25)) is None
    assert find_payment_cycle(old, "a", t + timedelta(hours=25), window=timedelta(hours=26)) == [
        "a",
        "b",
        "a",
    ]


def test_payment_loop_alert_fires_once_and_resolves_after_the_window() -> None:
    feed = Feed(ctx=AgentContext(agent_id="b"))
    cycle = ["b", "c", "a", "b"]
    out = observe_payment_cycle(feed.state, cycle, feed.ctx, MONDAY)
    assert [a.rule for a in out.fired] == ["payment_loop"]
    alert = out.fired[0]
    assert alert.figures == {"cycle": cycle, "hops": 3, "window_hours": 24}
    assert alert.dedupe_key == "payment_loop:b:a>b>c:2026-06-01"
    assert (
        observe_payment_cycle(feed.state, ["b", "c", "a", "b"], feed.ctx, MONDAY + timedelta(hours=1)).fired
        == []
    )
    assert observe_payment_cycle(feed.state, None, feed.ctx, MONDAY).fired == []
    feed.tick(MONDAY + timedelta(hours=24))
    assert feed.cleared == []
    feed.tick(MONDAY + timedelta(hours=26))
    assert [r.dedupe_key for r in feed.cleared] == [alert.dedupe_key]
