"""The idle cadence: each idle agent falls due once per period at its own phase, spread
over the period, on every replica alike; a jump of the clock makes everyone due."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from spendwarden.signals.cadence import IDLE_SECONDS, IdleSchedule, phase

AGENTS = [f"agent-{i:05d}" for i in range(3000)]
T0 = 1_780_000_000


def _schedule(agents: list[str] = AGENTS) -> IdleSchedule:
    schedule = IdleSchedule()
    schedule.load(agents, T0)
    return schedule


@settings(deadline=None)
@given(start=st.integers(min_value=0, max_value=IDLE_SECONDS), step=st.sampled_from([1, 7, 30, 45, 299]))
def test_ticking_through_a_period_makes_each_agent_due_exactly_once(start: int, step: int) -> None:
    schedule = _schedule(AGENTS[:300])
    first = T0 + start
    ticks = [*range(first, first + IDLE_SECONDS, step), first + IDLE_SECONDS]
    seen = Counter(a for prev, now in pairwise(ticks) for a in schedule.due(prev, now))
    assert set(seen) == set(AGENTS[:300]) and set(seen.values()) == {1}


def test_a_round_takes_its_share_of_the_idle_fleet() -> None:
    schedule = _schedule()
    per_round = [len(schedule.due(T0 + 30 * k, T0 + 30 * (k + 1))) for k in range(IDLE_SECONDS // 30)]
    assert sum(per_round) == len(AGENTS)
    share = len(AGENTS) * 30 / IDLE_SECONDS
    assert max(per_round) < 2 * share, per_round  # spread, not in one burst


def test_first_tick_a_long_gap_or_a_clock_going_back_makes_everyone_due() -> None:
    schedule = _schedule()
    assert len(schedule.due(None, T0)) == len(AGENTS)
    assert len(schedule.due(T0, T0 + IDLE_SECONDS)) == len(AGENTS)
    assert len(schedule.due(T0, T0 - 5)) == len(AGENTS)
    assert schedule.due(T0, T0) == []


def test_phases_agree_everywhere_and_agents_added_later_fall_due_at_theirs() -> None:
    assert phase("agent-00042") == phase("agent-00042") and 0 <= phase("agent-00042") < IDLE_SECONDS
    schedule = _schedule([])
    late = "agent-late"
    schedule.add([late, late])
    assert len(schedule) == 1
    at = T0 - T0 % IDLE_SECONDS + phase(late)
    assert schedule.due(at - 1, at) == [late]
    assert schedule.due(at, at + 1) == []


def test_the_schedule_goes_stale_after_a_period_or_when_the_clock_goes_back() -> None:
    schedule = IdleSchedule()
    assert schedule.stale(T0)
    schedule.load(AGENTS, T0)
    assert not schedule.stale(T0 + IDLE_SECONDS - 1)
    assert schedule.stale(T0 + IDLE_SECONDS)
    assert schedule.stale(T0 - 1)
