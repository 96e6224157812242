"""The demo clock never runs ahead of the scenario and never goes backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spendwarden.demo.clock import DemoClock

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_it_stands_still_until_moved() -> None:
    clock = DemoClock(START)
    assert clock.now() == clock.now() == START
    clock.advance_to(START + timedelta(minutes=5))
    assert clock.now() == START + timedelta(minutes=5)


def test_it_never_goes_backwards() -> None:
    clock = DemoClock(START)
    clock.advance_to(START + timedelta(hours=1))
    clock.advance_to(START)
    assert clock.now() == START + timedelta(hours=1)


def test_running_it_flows_at_its_speed_from_where_it_stood() -> None:
    clock = DemoClock(START)
    clock.run(3600.0)  # an hour per second: any measurable wall time moves it forward
    later = clock.now()
    assert later >= START
    clock.advance_to(START)  # standing still again, never before where it ran to
    assert clock.now() >= later
