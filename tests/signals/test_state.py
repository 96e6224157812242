from __future__ import annotations

import json
import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendwarden.signals import AgentContext, AgentSignalState, TaskEventFact, observe_task_event
from spendwarden.signals.state import MAX_FINGERPRINTS, MAX_RAILS, MAX_SEEN, MAX_TASKS, MAX_TOOLS
from tests.signals.factories import MONDAY, Feed

CTX = AgentContext(agent_id="a", tier="staging", caps={"daily": 50_000_000}, cap_spend={"daily": 1_000})


def _round_trip(state: AgentSignalState) -> AgentSignalState:
    return AgentSignalState.from_json(json.loads(json.dumps(state.to_json())))


def _assert_bounded(state: AgentSignalState) -> None:
    assert all(len(s) <= MAX_SEEN for s in state.seen.values())
    assert len(state.tasks) <= MAX_TASKS
    assert len(state.f_tot) <= MAX_FINGERPRINTS
    assert len(state.r_tot) <= MAX_RAILS + 1 and len(state.t_tot) <= MAX_TOOLS + 1
    assert len(state.b_rails) <= 2 * MAX_RAILS


def test_state_stays_small_after_100k_events_of_maximal_variety() -> None:
    feed = Feed(ctx=CTX)
    rng = random.Random(7)
    at = MONDAY
    for i in range(100_000):
        at += timedelta(seconds=rng.randint(0, 40))
        late = at - timedelta(minutes=rng.randint(0, 90)) if i % 17 == 0 else at
        feed.txn(
            late,
            rng.randint(0, 50_000),
            rail=f"rail-{i % 15}",
            vendor=f"v{i}",
            tool=f"tool-{i}",
            endpoint=f"https://e/{i}" * 5,
            model=f"m{i % 300}",
            task_id=f"task-{i}",
            attempt=2 if i % 20 == 0 else 1,
            status="failed" if i % 50 == 0 else "settled",
        )
    state = feed.state
    _assert_bounded(state)
    size = len(json.dumps(state.to_json()))
    assert size < 64_000, size
    assert _round_trip(state).to_json() == state.to_json()


facts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7200),  # seconds after the previous event
        st.integers(min_value=0, max_value=3_000_000),
        st.sampled_from(["llm_api", "stripe", "x402"]),
        st.sampled_from([None, "search", "browser"]),
        st.sampled_from(["settled", "failed", "voided"]),
        st.integers(min_value=1, max_value=3),
        st.sampled_from([None, "t1", "t2"]),
        st.booleans(),  # a task event before the transaction
    ),
    max_size=120,
)


def _replay(
    events: list[tuple[int, int, str, str | None, str, int, str | None, bool]],
) -> tuple[Feed, list[str]]:
    feed = Feed(ctx=CTX)
    at = MONDAY
    for gap, amount, rail, tool, status, attempt, task, with_event in events:
        at += timedelta(seconds=gap)
        if with_event and task:
            out = observe_task_event(
                feed.state, TaskEventFact(type="progress", task_id=task, occurred_at=at), CTX
            )
            feed.fired += out.fired
            feed.cleared += out.cleared
        feed.txn(at, amount, rail=rail, tool=tool, status=status, attempt=attempt, task_id=task)
        if gap > 3600:
            feed.tick(at)
    return feed, [a.dedupe_key for a in feed.fired] + [r.dedupe_key for r in feed.cleared]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts)
def test_round_trip_bounds_and_replay_determinism(
    events: list[tuple[int, int, str, str | None, str, int, str | None, bool]],
) -> None:
    first, keys = _replay(events)
    second, again = _replay(events)
    assert keys == again
    assert first.state.to_json() == second.state.to_json()
    _assert_bounded(first.state)
    restored = _round_trip(first.state)
    assert restored.to_json() == first.state.to_json()
    nxt = MONDAY + timedelta(days=3)
    a = Feed(ctx=CTX, state=restored)
    b = Feed(ctx=CTX, state=first.state.copy())
    for feed in (a, b):
        feed.txn(nxt, 2_000_000, rail="x402", vendor="new-vendor")
        feed.tick(nxt + timedelta(hours=1))
    assert a.fired == b.fired and a.cleared == b.cleared
    assert a.state.to_json() == b.state.to_json()


def test_unknown_version_is_refused() -> None:
    data = AgentSignalState().to_json()
    data["v"] = 99
    try:
        AgentSignalState.from_json(data)
    except ValueError as exc:
        assert "version" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("accepted an unknown version")


def test_to_json_is_a_snapshot() -> None:
    feed = Feed(ctx=CTX)
    feed.txn(MONDAY, 1_000, tool="search")
    snap = feed.state.to_json()
    frozen = json.dumps(snap)
    feed.txn(MONDAY + timedelta(seconds=1), 1_000, tool="search")
    assert json.dumps(snap) == frozen
