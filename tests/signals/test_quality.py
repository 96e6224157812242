from __future__ import annotations

from datetime import timedelta

from tests.signals.factories import MONDAY, Feed, every

NINE = MONDAY + timedelta(hours=9)


def _calls(feed: Feed, n: int, retries: int = 0, failures: int = 0, amount: int = 100_000) -> None:
    for i, at in enumerate(every(NINE, n / 2, 2)):
        late = n - i  # retries and failures come last, after the normal calls
        feed.txn(
            at,
            amount,
            attempt=2 if late <= retries else 1,
            status="failed" if late <= failures else "settled",
        )


def test_retries_over_15_percent_of_spend_fire() -> None:
    feed = Feed()
    _calls(feed, 20, retries=4)  # 20 % of $2.00
    alert = feed.only("retry_cost")
    assert alert.figures["threshold"] == 0.15
    assert alert.figures["window_minutes"] == 15
    assert alert.figures["ratio"] > 0.15
    assert alert.figures["retry_spend_usd"] == "0.300000"  # 3 of 19 calls: the first time over 15 %
    assert alert.figures["spend_usd"] == "1.900000"


def test_a_few_retries_are_normal() -> None:
    feed = Feed()
    _calls(feed, 20, retries=2)  # 10 %
    assert "retry_cost" not in feed.rules()


def test_retries_under_the_minimum_spend_or_count_are_ignored() -> None:
    feed = Feed()
    _calls(feed, 4, retries=4, amount=100_000)  # $0.40 < $0.50
    assert "retry_cost" not in feed.rules()
    few = Feed()
    _calls(few, 7, retries=1, amount=100_000)  # 1 of 7 calls: $0.70, but under 10 calls
    assert "retry_cost" not in few.rules()


def test_failure_rate_over_10_percent_fires_above_the_minimum_count() -> None:
    feed = Feed()
    _calls(feed, 25, failures=3)
    alert = feed.only("failure_rate")
    assert alert.figures["calls"] == 25
    assert alert.figures["failed_calls"] == 3
    assert alert.figures["failure_rate"] == 0.12


def test_failures_below_the_rate_or_the_count_stay_quiet() -> None:
    feed = Feed()
    _calls(feed, 25, failures=2)  # 8 %
    assert "failure_rate" not in feed.rules()
    few = Feed()
    _calls(few, 10, failures=5)  # 50 % of too few calls
    assert "failure_rate" not in few.rules()


def test_failure_rate_resolves_when_the_window_moves_on() -> None:
    feed = Feed()
    _calls(feed, 25, failures=5)
    key = feed.only("failure_rate").dedupe_key
    feed.tick(NINE + timedelta(minutes=40))
    assert [r.dedupe_key for r in feed.cleared if r.rule == "failure_rate"] == [key]
