from __future__ import annotations

from datetime import timedelta

from tests.signals.factories import MONDAY, Feed, every

NINE = MONDAY + timedelta(days=1, hours=9)


def _mixed(feed: Feed, stripe_every: int, minutes: int = 8 * 60) -> None:
    """Monday 08-16 at 2/min, $0.05 each; every ``stripe_every``-th call on stripe."""
    for i, at in enumerate(every(MONDAY + timedelta(hours=8), minutes, 2)):
        feed.txn(at, 50_000, rail="stripe" if i % stripe_every == 0 else "llm_api")


def test_shift_to_a_rail_that_was_rare_fires() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=10)
    for at in every(NINE, 30, 2):
        feed.txn(at, 50_000, rail="x402")
    alert = feed.only("rail_shift")
    assert alert.figures["rail"] == "x402"
    assert alert.figures["share_last_hour"] == 1.0
    assert alert.figures["baseline_share"] == 0.0
    assert alert.figures["spend_last_hour_usd"] == "1.000000"  # fires at the minimum hour: $1 and 10 tx


def test_the_usual_mix_stays_quiet() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=10)
    for i, at in enumerate(every(NINE, 60, 2)):
        feed.txn(at, 50_000, rail="stripe" if i % 10 == 3 else "llm_api")
    assert "rail_shift" not in feed.rules()


def test_one_payment_after_a_quiet_night_is_not_a_shift() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=10)
    feed.txn(NINE, 5_000_000, rail="x402")
    assert "rail_shift" not in feed.rules()


def test_whole_mix_moving_fires_on_total_variation_distance() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=2)  # 50/50
    for at in every(NINE, 30, 2):
        feed.txn(at, 50_000, rail="stripe")
    alert = feed.only("rail_shift")
    assert alert.figures["rail"] == "stripe"
    assert alert.figures["baseline_share"] == 0.5
    assert alert.figures["total_variation_distance"] == 0.5


def test_a_moderate_swing_is_not_a_shift() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=2)
    for i, at in enumerate(every(NINE, 60, 2)):
        feed.txn(at, 50_000, rail="stripe" if i % 10 < 7 else "llm_api")  # 70/30: TVD 0.2
    assert "rail_shift" not in feed.rules()


def test_shift_resolves_when_the_hour_no_longer_shows_it() -> None:
    feed = Feed()
    _mixed(feed, stripe_every=10)
    for at in every(NINE, 30, 2):
        feed.txn(at, 50_000, rail="x402")
    key = feed.only("rail_shift").dedupe_key
    feed.tick(NINE + timedelta(hours=2))
    assert [r.dedupe_key for r in feed.cleared if r.rule == "rail_shift"] == [key]
