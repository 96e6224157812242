"""``watch_until``: after it, a tick can fire only the hour- and day-scale rules and has
nothing to clear, so the integrator may tick such an agent far less often (``cadence``).

Checked on random histories (fast bursts, retries, failures, rail switches, tasks, quiet
gaps) with caps and a monthly budget, ticked at random times past the watch; and shown not
to hold before it, so the check can fail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from spendwarden.signals import AgentContext, AgentSignalState, tick, watch_until
from spendwarden.signals.engine import SLOW_RULES, WATCH_ALWAYS
from spendwarden.signals.facts import from_ts, to_ts
from tests.signals.factories import BURST_KINDS, MONDAY, Feed, burst, history

CTX = AgentContext(
    agent_id="a",
    tier="production",
    caps={"daily": 40_000_000, "monthly": 300_000_000},
    cap_spend={"daily": 1_000_000, "monthly": 100_000_000},
)

bursts = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 3, 20, 90, 600]),  # minutes of quiet before the burst
        st.sampled_from(BURST_KINDS),
        st.integers(min_value=1, max_value=40),  # events in the burst
        st.sampled_from([1_000, 50_000, 400_000, 3_000_000]),
    ),
    min_size=1,
    max_size=12,
)


def _play(feed: Feed, plan: list[tuple[int, str, int, int]]) -> datetime:
    at = history(feed, days=2, per_min=0.5)
    for quiet, kind, n, amount in plan:
        at = burst(feed, at + timedelta(minutes=quiet), kind, n, amount) + timedelta(seconds=7)
    return at


def _settled(feed: Feed, after: datetime) -> datetime:
    """Tick until the conditions the history left open have cleared (or a day has passed)."""
    now = after
    for _ in range(48):
        if not feed.state.active and not feed.state.tasks:
            break
        now += timedelta(hours=1)
        feed.tick(now)
    return now


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=bursts,
    settle=st.booleans(),
    silence=st.sampled_from([None, 5, 120, 600]),
    later=st.lists(st.integers(min_value=0, max_value=3 * 86_400), min_size=1, max_size=4),
)
def test_past_the_watch_a_tick_fires_only_slow_rules_and_clears_nothing(
    plan: list[tuple[int, str, int, int]], settle: bool, silence: int | None, later: list[int]
) -> None:
    feed = Feed(ctx=replace(CTX, silence_minutes=silence))
    end = _play(feed, plan)
    if settle:
        end = _settled(feed, end)
    state = feed.state
    until = watch_until(state)
    if until == WATCH_ALWAYS:
        event("watched: open condition or task")
        return
    event("idle: checked")
    start = max(until, to_ts(end))
    for seconds in sorted(later):
        out = tick(state.copy(), from_ts(start + seconds), feed.ctx, feed.cfg)
        assert not out.cleared, [r.rule for r in out.cleared]
        assert {a.rule for a in out.fired} <= SLOW_RULES, [a.rule for a in out.fired]


def test_before_the_watch_a_tick_can_still_clear_a_flow_condition() -> None:
    """A runaway loop keeps its agent watched; a tick inside the window resolves it."""
    feed = Feed(ctx=AgentContext(agent_id="a", tier="production"))
    at = history(feed, days=1, per_min=0.5)
    for i in range(60):
        feed.txn(at + timedelta(seconds=i), 1_000)
    assert "runaway_loop" in feed.rules()
    assert watch_until(feed.state) == WATCH_ALWAYS
    out = tick(feed.state.copy(), at + timedelta(minutes=30), feed.ctx, feed.cfg)
    assert [r.rule for r in out.cleared] == ["runaway_loop"]


def test_an_agent_with_no_events_is_not_watched() -> None:
    assert watch_until(AgentSignalState()) < to_ts(MONDAY)
