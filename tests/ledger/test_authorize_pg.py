"""PostgreSQL's one-round-trip authorization (``spendwarden_authorize``, migrations 0008
and 0009) against the locked path: the same answers, errors and money, no decision on a
configuration another process has changed, and one call for an agent not read before."""

from __future__ import annotations

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import upgrade
from spendwarden.db.pg_authorize import AuthorizeCall, DatabaseDecision
from spendwarden.errors import CapExceeded, PolicyDenied
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.ledger.twins import run_changes_by_another_process, run_twin_workload

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
def decisions(twins: tuple[Runtime, Runtime]) -> list[str]:
    """The outcome of every call of the database function by the first runtime, ``new:``
    before it when the call passed no configuration (the agent was not known: the function
    read its row)."""
    seen: list[str] = []
    core = twins[0].ledger.core
    real = core.decide_in_database
    assert real is not None

    def spy(call: AuthorizeCall) -> DatabaseDecision:
        decision = real(call)
        seen.append(("new:" if call.caps_text is None else "") + decision.outcome)
        return decision

    core.decide_in_database = spy
    return seen


def test_database_function_answers_as_the_locked_path(
    twins: tuple[Runtime, Runtime], clock: FrozenClock, decisions: list[str]
) -> None:
    """The twin workload (``twins.run_twin_workload``): the database function answers and
    counts as the locked path does."""
    fast, locked = twins
    run_twin_workload(fast, locked, clock)
    assert decisions.count("approved") > 50 and decisions.count("denied") > 10
    assert "stale" in decisions  # settlements broke caps and halted agents: the function noticed
    # agents first seen, or seen again after a change, were decided on their row
    assert {"new:approved", "new:denied", "new:policy", "new:stale"} <= set(decisions)


def test_a_change_by_another_process_is_never_decided_on(
    twins: tuple[Runtime, Runtime], decisions: list[str]
) -> None:
    """The first runtime has the agent's configuration cached; the second changes it
    between requests. Each next authorization obeys the change."""
    run_changes_by_another_process(*twins)
    # the caps change, the halt and the revoke were each caught by the function; the
    # policy change by the call after the first catch, which passed no configuration and
    # got the new policy back to check; the unknown agent was missing in the database
    assert decisions == [
        "new:approved", "stale", "new:policy", "new:stale", "new:approved", "stale", "new:missing",
    ]  # fmt: skip


def test_requests_with_an_idempotency_key_replay_on_the_locked_path(
    twins: tuple[Runtime, Runtime], decisions: list[str]
) -> None:
    fast, _ = twins
    fast.ledger.create_agent(AgentSpec(id="bot", tier="custom", caps={"daily": usd("10")}), "test")
    req = AuthorizeRequest(amount=usd("1"))
    first = fast.ledger.authorize("bot", req, idempotency_key="k1")
    assert fast.ledger.authorize("bot", req, idempotency_key="k1") == first
    assert fast.ledger.view("bot")["held"] == "1.000000"
    assert decisions == []


def test_migrations_0008_and_0009_install_and_remove_the_function(database_url: str) -> None:
    """0009 adds the row's texts to the answer; down to 0008 takes them away again, down to
    0007 removes the function, and upgrading brings 0009's back."""
    engine = make_null_pool_engine(database_url)
    # what the function answers: its argument names after the 19 it takes
    answers = "SELECT proargnames[20:] FROM pg_proc WHERE proname = 'spendwarden_authorize'"

    def installed() -> list[list[str]]:
        with engine.connect() as conn:
            return list(conn.exec_driver_sql(answers).scalars())

    def downgrade(revision: str) -> None:
        from alembic import command

        from spendwarden.db.migrate import alembic_config

        with engine.begin() as conn:
            cfg = alembic_config(database_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    with_texts = ["outcome", "denied_cap", "committed", "caps", "policy"]
    try:
        assert installed() == [with_texts]
        downgrade("0008")
        assert installed() == [["outcome", "denied_cap", "committed"]]
        downgrade("0007")
        assert installed() == []
        upgrade(database_url)
        assert installed() == [with_texts]
    finally:
        engine.dispose()


def test_an_agent_not_read_before_is_decided_in_one_call(
    twins: tuple[Runtime, Runtime], decisions: list[str]
) -> None:
    """Agents another process created: the first authorization passes no configuration and
    the function decides on the row, caps included; an agent with a policy gets its texts
    back, its policy checked here, and a second call (or the locked path's refusal)."""
    fast, other = twins
    caps = {"per_task": usd("0.5"), "daily": usd("2")}
    other.ledger.create_agent(AgentSpec(id="plain", tier="custom", caps=caps), "test")
    other.ledger.create_agent(
        AgentSpec(id="picky", tier="custom", caps=caps, policy={"allowed_tools": ["chat"]}), "test"
    )
    with pytest.raises(CapExceeded) as denied:
        fast.ledger.authorize("plain", AuthorizeRequest(amount=usd("0.6"), task_id="t"))
    assert denied.value.details["cap"] == "per_task"
    assert decisions == ["new:denied"]
    body = fast.ledger.authorize("plain", AuthorizeRequest(amount=usd("0.4"), task_id="t"))
    assert body["headroom"] == {"per_task": "0.100000", "daily": "1.600000"}
    assert decisions == ["new:denied", "approved"]  # the row's texts were remembered

    decisions.clear()
    with pytest.raises(PolicyDenied):
        fast.ledger.authorize("picky", AuthorizeRequest(amount=usd("0.1"), tool="browse"))
    fast.ledger.authorize("picky", AuthorizeRequest(amount=usd("0.1"), tool="chat"))
    fast.ledger.authorize("picky", AuthorizeRequest(amount=usd("0.1"), tool="chat"))
    assert decisions == ["new:policy", "new:policy", "approved", "approved"]
    assert fast.ledger.view("picky")["held"] == "0.200000"
    assert other.ledger.view("plain")["held"] == "0.400000"


@pytest.mark.parametrize(
    "cap", ["per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total"]
)
def test_the_function_approves_up_to_the_last_micro_dollar(
    twins: tuple[Runtime, Runtime], decisions: list[str], cap: str
) -> None:
    """Each cap, in the function: a hold that reaches the limit exactly is approved, one
    micro-dollar more is denied, naming the cap."""
    fast, _ = twins
    fast.ledger.create_agent(AgentSpec(id="bot", tier="custom", caps={cap: usd("1.000001")}), "test")
    first = usd("0.4") if cap != "per_transaction" else usd("1.000001")
    fast.ledger.authorize("bot", AuthorizeRequest(amount=first, task_id="t"))
    rest = usd("1.000001") - first if cap != "per_transaction" else usd("1.000001")
    assert fast.ledger.authorize("bot", AuthorizeRequest(amount=rest, task_id="t"))["headroom"][cap] == (
        "0.000000" if cap != "per_transaction" else "1.000001"
    )
    over = 1 if cap != "per_transaction" else usd("1.000002")
    with pytest.raises(CapExceeded) as denied:
        fast.ledger.authorize("bot", AuthorizeRequest(amount=over, task_id="t"))
    assert denied.value.details["cap"] == cap
    assert decisions == ["new:approved", "approved", "denied"]
