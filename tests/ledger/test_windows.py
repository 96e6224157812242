"""Calendar windows in UTC; weeks start on Monday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from spendwarden.ledger.windows import window_bounds, window_key


def test_keys_follow_utc_calendar() -> None:
    at = datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)  # a Sunday
    assert window_key("hourly", at) == "2026-11-29T23"
    assert window_key("daily", at) == "2026-11-29"
    assert window_key("weekly", at) == "W2026-11-23"
    assert window_key("monthly", at) == "2026-11"
    nxt = at + timedelta(seconds=1)
    assert window_key("weekly", nxt) == "W2026-11-30"
    assert window_key("monthly", nxt) == "2026-11"
    assert window_key("monthly", datetime(2026, 12, 1, tzinfo=UTC)) == "2026-12"


def test_other_timezones_are_converted_to_utc() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert window_key("daily", at) == "2026-03-28"


def test_month_bounds_cover_month_end() -> None:
    start, end = window_bounds("monthly", datetime(2026, 2, 28, 23, 0, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
