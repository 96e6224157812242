"""SQLite's lean authorization (``ledger/authorize_sqlite.py``) against the locked path: the
same answers, errors and money; every error is worded by the locked path; and a change
made by another process is obeyed on the very next request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.errors import CapExceeded
from spendwarden.ledger import authorize_sqlite
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.caps import CAP_NAMES
from spendwarden.ledger.keys import hash_secret
from spendwarden.ledger.service import Ledger
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.ledger.twins import run_changes_by_another_process, run_twin_workload

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def twins(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database file, as two processes: the first authorizes on the
    lean path, the second only on the locked path."""
    settings = Settings(database_url=database_url, admin_token="a" * 40)
    fast = build_runtime(settings, clock=clock, migrate=False)
    locked = build_runtime(settings, clock=clock, migrate=False)
    locked.ledger.authorize = partial(Ledger.authorize, locked.ledger, try_fast_path=False)  # type: ignore[method-assign]
    yield fast, locked
    fast.close()
    locked.close()


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the lean path did with each request: approved, denied, or passed on (None)."""
    seen: list[str] = []
    real = authorize_sqlite.try_authorize

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            body = real(*args, **kwargs)
        except CapExceeded:
            seen.append("denied")
            raise
        seen.append("passed" if body is None else "approved")
        return body

    monkeypatch.setattr(authorize_sqlite, "try_authorize", spy)
    return seen


def test_lean_path_answers_as_the_locked_path(
    twins: tuple[Runtime, Runtime], clock: FrozenClock, answers: list[str]
) -> None:
    fast, locked = twins
    run_twin_workload(fast, locked, clock)
    assert answers.count("approved") > 50 and answers.count("denied") > 10
    assert "passed" in answers  # policy refusals and halted agents: worded by the locked path


def test_a_change_by_another_process_is_obeyed_on_the_next_request(
    twins: tuple[Runtime, Runtime], answers: list[str]
) -> None:
    run_changes_by_another_process(*twins)
    assert answers == ["approved", "denied", "passed", "passed", "approved", "passed", "passed"]


@pytest.mark.parametrize("cap", CAP_NAMES)
def test_every_cap_holds_to_the_last_micro_dollar(runtime: Runtime, cap: str, answers: list[str]) -> None:
    runtime.ledger.create_agent(AgentSpec(id="edge", tier="custom", caps={cap: usd("1.000001")}), "test")
    task = "t" if cap == "per_task" else None
    first = usd("1") if cap == "per_transaction" else usd("0.6")
    runtime.ledger.authorize("edge", AuthorizeRequest(amount=first, task_id=task))
    rest = usd("1.000001") - (0 if cap == "per_transaction" else first)
    with pytest.raises(CapExceeded) as denied:
        runtime.ledger.authorize("edge", AuthorizeRequest(amount=rest + 1, task_id=task))
    assert denied.value.details["cap"] == cap
    body = runtime.ledger.authorize("edge", AuthorizeRequest(amount=rest, task_id=task))
    assert body["status"] == "approved"
    if cap != "per_transaction":
        assert body["headroom"][cap] == "0.000000"
    assert answers == ["approved", "denied", "approved"]


# --- a batch (the event loop's authorizations of one iteration) -------------------------

AGENTS = {
    "a": AgentSpec(id="a", tier="custom", caps={"daily": usd("5.00"), "per_task": usd("1.50")}),
    "b": AgentSpec(
        id="b", tier="custom", caps={"per_transaction": usd("0.80"), "hourly": usd("2.00")},
        policy={"blocked_vendors": ["evil"]},
    ),
    "c": AgentSpec(id="c", tier="custom", caps={"total": usd("3.00")}),
}  # fmt: skip


class RolledBack(Exception):
    """Carries what a transaction saw out of it, undoing its writes."""


@pytest.fixture
def fleet(runtime: Runtime) -> dict[str, str]:
    """Agents a, b, c (c halted) and each one's key hash; "ghost" has no row."""
    hashes = {}
    for spec in AGENTS.values():
        _, key = runtime.ledger.create_agent(spec, "test")
        hashes[spec.id] = hash_secret(key)
    runtime.ledger.halt("c", "test", "a halted agent")
    return hashes


def outcome_of(outcome: authorize_sqlite.Outcome) -> Any:
    """An outcome without what differs by construction (the hold's id)."""
    if isinstance(outcome, Exception):
        return type(outcome).__name__, getattr(outcome, "details", None)
    if outcome is None:
        return None
    hold, caps, committed = outcome
    return {k: v for k, v in hold.items() if k != "id"}, caps, committed


def written(conn: Any) -> tuple[Any, ...]:
    """What the authorizations wrote: each agent's held, each task's, the open holds."""
    return (
        conn.exec_driver_sql("SELECT agent_id, held FROM agent_state ORDER BY agent_id").all(),
        conn.exec_driver_sql(
            "SELECT agent_id, period, held FROM spend_counters WHERE scope = 'per_task' ORDER BY 1, 2"
        ).all(),
        conn.exec_driver_sql(
            "SELECT agent_id, amount, task_id, vendor FROM holds ORDER BY agent_id, created_at, id"
        ).all(),
    )


def decided(runtime: Runtime, decide: Callable[[Any], list[authorize_sqlite.Outcome]]) -> tuple[Any, Any]:
    """``decide``'s outcomes and writes, in a write transaction then rolled back."""
    with pytest.raises(RolledBack) as out, runtime.store.write() as conn:
        outcomes = decide(conn)
        raise RolledBack([outcome_of(o) for o in outcomes], written(conn))
    return out.value.args[0], out.value.args[1]


requests = st.lists(
    st.tuples(
        st.sampled_from(["a", "a", "b", "c", "ghost"]),
        st.integers(min_value=1, max_value=usd("1.2")),
        st.sampled_from([None, "t1", "t2"]),
        st.sampled_from([None, "openai", "evil"]),
        st.sampled_from(["own", "none", "other"]),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests)
def test_a_batch_decides_as_its_requests_one_by_one(
    runtime: Runtime, fleet: dict[str, str], requests: list[tuple[Any, ...]]
) -> None:
    """A later request in a batch counts the holds of earlier ones for its agent and task,
    though their rows are written only at the end: outcomes and writes are exactly those of
    the same requests decided one by one, each writing before the next reads."""
    core = runtime.ledger.core
    key_of = {
        "own": lambda agent: fleet.get(agent, "0" * 64),
        "none": lambda _: None,
        "other": lambda _: "f" * 64,
    }
    batch: list[authorize_sqlite.Lean] = [
        (agent, AuthorizeRequest(amount=amount, task_id=task, vendor=vendor), key_of[key](agent))
        for agent, amount, task, vendor, key in requests
    ]
    together = decided(runtime, lambda conn: authorize_sqlite.decide_batch(core, conn, batch))
    one_by_one = decided(
        runtime, lambda conn: [authorize_sqlite.decide_batch(core, conn, [lean])[0] for lean in batch]
    )
    assert together == one_by_one


def test_one_agent_many_times_in_a_batch_gets_exactly_what_fits(
    runtime: Runtime, fleet: dict[str, str]
) -> None:
    core = runtime.ledger.core
    amounts = [("1.00", None)] * 3 + [("0.60", "t")] * 3 + [("1.00", None), ("0.80", None), ("0.01", None)]
    batch = [
        ("a", AuthorizeRequest(amount=usd(amount), task_id=task), fleet["a"]) for amount, task in amounts
    ]
    with runtime.store.write() as conn:
        outcomes = authorize_sqlite.decide_batch(core, conn, batch)
    caps = [o.details["cap"] if isinstance(o, CapExceeded) else "approved" for o in outcomes]
    # daily 5.00: 3.00, then two of 0.60 on task t (per_task 1.50 refuses a third), then
    # 1.00 would make 5.20, 0.80 makes exactly 5.00, and not a micro-dollar more
    assert caps == ["approved"] * 5 + ["per_task", "daily", "approved", "daily"]
    view = runtime.ledger.view("a")
    assert view["held"] == "5.000000" and view["headroom"]["daily"] == "0.000000"
    with runtime.store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM holds WHERE agent_id = 'a'").scalar() == 6
        task_held = (
            "SELECT held FROM spend_counters WHERE agent_id = 'a' AND scope = 'per_task' AND period = 't'"
        )
        assert conn.exec_driver_sql(task_held).scalar() == usd("1.20")
