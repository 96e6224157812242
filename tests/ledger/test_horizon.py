"""The horizon's rules as pure properties: key order is time order, "kept" means "closed
after the horizon", and a spend is told exactly which of its windows may be gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from spendwarden.clock import to_us
from spendwarden.ledger.horizon import (
    CLOSING,
    GRACE_US,
    closed_windows,
    closed_windows_of,
    first_kept,
    is_kept,
    window_at,
)
from spendwarden.ledger.windows import HOUR_US, window_bounds, window_key

moments = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
)
scopes = st.sampled_from(CLOSING)


def end_of(scope: str, at: datetime) -> int:
    _start, end = window_bounds(scope, at)
    assert end is not None
    return to_us(end)


@given(scopes, moments, moments)
def test_keys_sort_in_time_order(scope: str, a: datetime, b: datetime) -> None:
    a, b = min(a, b), max(a, b)
    assert window_key(scope, a) <= window_key(scope, b)
    same = window_bounds(scope, a) == window_bounds(scope, b)
    assert (window_key(scope, a) == window_key(scope, b)) == same


@given(scopes, moments, moments, st.integers(min_value=2, max_value=400))
def test_kept_means_the_window_closed_after_the_horizon(
    scope: str, at: datetime, now: datetime, days: int
) -> None:
    horizon = to_us(now) - days * 24 * HOUR_US
    kept = is_kept(scope, window_key(scope, at), first_kept(to_us(now), days))
    assert kept == (end_of(scope, at) > horizon)


@given(moments, moments)
def test_a_spend_is_told_which_of_its_windows_closed_past_the_grace(at: datetime, now: datetime) -> None:
    at_us, now_us = to_us(at), to_us(now)
    expected = {s for s in CLOSING if end_of(s, at) <= now_us - GRACE_US}
    found = closed_windows(at_us, now_us)
    assert {w.scope for w in found} == expected
    for w in found:
        assert (w.period, w.start_us, w.end_us) == (window_key(w.scope, at), *window_span(w.scope, at))
        assert w.granularity == ("h" if w.scope == "hourly" else "d")


@given(scopes, st.lists(moments, max_size=5), moments)
def test_looking_back_names_the_same_windows(scope: str, ats: list[datetime], now: datetime) -> None:
    now_us = to_us(now)
    found = closed_windows_of(scope, [to_us(a) for a in ats], now_us)
    assert found == [window_at(scope, to_us(a)) for a in ats if end_of(scope, a) <= now_us - GRACE_US]


def test_the_last_day_never_looks() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert closed_windows(to_us(now - timedelta(hours=23)), to_us(now)) == []
    assert [w.scope for w in closed_windows(to_us(now - timedelta(hours=25)), to_us(now))] == ["hourly"]


def window_span(scope: str, at: datetime) -> tuple[int, int]:
    start, _end = window_bounds(scope, at)
    return to_us(start), end_of(scope, at)
