"""Authorize, settle, void and expiry through the real ledger, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.db import queries as q
from spendwarden.errors import AgentHalted, CapExceeded, IdempotencyConflict, InvalidState, PolicyDenied
from spendwarden.events import SpendEvent
from spendwarden.ledger import holds
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.factories import make_agent


def req(amount: str, **kw: object) -> AuthorizeRequest:
    return AuthorizeRequest(amount=usd(amount), **kw)  # type: ignore[arg-type]


def test_authorize_reports_headroom_and_counts_open_holds(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00", per_transaction="0.60")
    first = ledger.authorize("bot", req("0.40"))
    assert first["status"] == "approved"
    assert first["headroom"] == {"per_transaction": "0.600000", "daily": "0.600000"}
    with pytest.raises(CapExceeded) as denied:
        ledger.authorize("bot", req("0.70"))
    assert denied.value.details == {
        "cap": "per_transaction",
        "limit": "0.600000",
        "spent": "0.000000",
        "requested": "0.700000",
    }
    ledger.authorize("bot", req("0.60"))
    with pytest.raises(CapExceeded) as daily:
        ledger.authorize("bot", req("0.000001"))
    assert daily.value.details["cap"] == "daily"
    assert daily.value.details["spent"] == "1.000000"


def test_settle_releases_the_hold_and_records_the_actual_amount(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00")
    hold = ledger.authorize("bot", req("0.50", vendor="openai", tool="chat", task_id="t1"))
    out = ledger.settle("bot", hold["id"], SpendEvent(agent_id="bot", amount=usd("0.30")))
    txn = out["transaction"]
    assert (txn["amount_usd"], txn["vendor"], txn["tool"], txn["task_id"]) == (
        "0.300000",
        "openai",
        "chat",
        "t1",
    )
    view = ledger.view("bot")
    assert view["spend"]["daily"] == "0.300000"
    assert view["held"] == "0.000000"
    assert view["headroom"]["daily"] == "0.700000"
    again = ledger.settle("bot", hold["id"], SpendEvent(agent_id="bot", amount=usd("0.30")))
    assert again["transaction"]["id"] == txn["id"]
    with pytest.raises(InvalidState):
        ledger.settle("bot", hold["id"], SpendEvent(agent_id="bot", amount=usd("0.31")))


def test_settling_above_the_cap_is_recorded_and_halts_the_agent(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00")
    hold = ledger.authorize("bot", req("0.50"))
    ledger.settle("bot", hold["id"], SpendEvent(agent_id="bot", amount=usd("1.25")))
    view = ledger.view("bot")
    assert view["spend"]["daily"] == "1.250000"
    assert view["status"] == "halted"
    with pytest.raises(AgentHalted):
        ledger.authorize("bot", req("0.01"))
    with runtime.store.read() as conn:
        from spendwarden.db import queries as q

        alerts = q.list_alerts(conn, filters={"rule": "cap_breach"}, before=None, limit=10)
    assert len(alerts) == 1 and alerts[0]["agent_id"] == "bot"
    ledger.resume("bot", "ops", "raised budget")
    ledger.update_agent("bot", {"caps": {"daily": usd("5")}}, "ops")
    assert ledger.authorize("bot", req("0.01"))["status"] == "approved"


def test_void_and_expiry_release_holds(runtime: Runtime, clock: FrozenClock) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00")
    a = ledger.authorize("bot", req("0.60"))
    assert ledger.void("bot", a["id"])["status"] == "voided"
    b = ledger.authorize("bot", req("0.90"))
    with pytest.raises(CapExceeded):
        ledger.authorize("bot", req("0.20"))
    clock.advance(timedelta(seconds=599))
    assert ledger.expire_holds() == 0
    clock.advance(timedelta(seconds=2))
    assert ledger.expire_holds() == 1
    assert ledger.view("bot")["held"] == "0.000000"
    assert ledger.authorize("bot", req("0.20"))["status"] == "approved"
    with pytest.raises(InvalidState):
        ledger.settle("bot", a["id"], SpendEvent(agent_id="bot", amount=1))
    late = ledger.settle("bot", b["id"], SpendEvent(agent_id="bot", amount=usd("0.10")))
    assert late["transaction"]["amount_usd"] == "0.100000"


def test_idempotent_authorize_returns_the_first_result(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00")
    first = ledger.authorize("bot", req("0.40"), idempotency_key="k1")
    again = ledger.authorize("bot", req("0.40"), idempotency_key="k1")
    assert again == first
    assert ledger.view("bot")["held"] == "0.400000"
    with pytest.raises(IdempotencyConflict):
        ledger.authorize("bot", req("0.41"), idempotency_key="k1")


def test_policy_blocks_vendors_rails_and_tools(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot")
    ledger.update_agent(
        "bot", {"policy": {"blocked_vendors": ["shady"], "allowed_rails": ["llm_api"]}}, "ops"
    )
    with pytest.raises(PolicyDenied) as blocked:
        ledger.authorize("bot", req("0.01", vendor="shady", rail="llm_api"))
    assert blocked.value.details["rule"] == "blocked_vendors"
    with pytest.raises(PolicyDenied):
        ledger.authorize("bot", req("0.01", vendor="openai", rail="x402"))
    assert ledger.authorize("bot", req("0.01", vendor="openai", rail="llm_api"))["status"] == "approved"


def test_backdated_spend_lands_in_its_own_window(runtime: Runtime, clock: FrozenClock) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00", monthly="10.00")
    yesterday = clock.now() - timedelta(days=1)
    ledger.record(SpendEvent(agent_id="bot", amount=usd("0.90"), occurred_at=yesterday, external_id="e1"))
    view = ledger.view("bot")
    assert view["spend"]["daily"] == "0.000000"
    assert view["spend"]["monthly"] == "0.900000"
    assert view["status"] == "active"
    dup = ledger.record(
        SpendEvent(agent_id="bot", amount=usd("0.90"), occurred_at=yesterday, external_id="e1")
    )
    assert dup.duplicate
    assert ledger.view("bot")["spend"]["monthly"] == "0.900000"


def test_tier_halt_rule_stops_an_experimental_agent_on_a_large_charge(runtime: Runtime) -> None:
    from spendwarden.ledger.agents import AgentSpec

    ledger = runtime.ledger
    ledger.create_agent(
        AgentSpec(id="exp", tier="experimental", caps={"daily": usd("100"), "per_task": None}), "t"
    )
    ledger.record(SpendEvent(agent_id="exp", amount=usd("1.50")))
    view = ledger.view("exp")
    assert view["status"] == "halted"
    assert view["status_reason"] == "auto_halt: max_single_charge"


def test_staging_rule_halts_when_today_exceeds_150_percent_of_yesterday(
    runtime: Runtime, clock: FrozenClock
) -> None:
    from spendwarden.ledger.agents import AgentSpec

    ledger = runtime.ledger
    ledger.create_agent(
        AgentSpec(id="stg", tier="staging", caps={"daily": usd("100"), "per_task": None}), "t"
    )
    ledger.record(SpendEvent(agent_id="stg", amount=usd("2.00"), occurred_at=clock.now() - timedelta(days=1)))
    ledger.record(SpendEvent(agent_id="stg", amount=usd("2.90")))
    assert ledger.view("stg")["status"] == "active"
    ledger.record(SpendEvent(agent_id="stg", amount=usd("0.20")))
    assert ledger.view("stg")["status_reason"] == "auto_halt: daily_vs_prior_day"


def test_production_rule_halts_when_the_hour_exceeds_three_times_the_rolling_average(
    runtime: Runtime, clock: FrozenClock
) -> None:
    from spendwarden.ledger.agents import AgentSpec

    ledger = runtime.ledger
    ledger.create_agent(AgentSpec(id="prod", tier="production", caps={"daily": usd("1000")}), "t")
    for h in range(1, 25):
        ledger.record(
            SpendEvent(agent_id="prod", amount=usd("1.00"), occurred_at=clock.now() - timedelta(hours=h))
        )
    ledger.record(SpendEvent(agent_id="prod", amount=usd("2.90")))
    assert ledger.view("prod")["status"] == "active"
    ledger.record(SpendEvent(agent_id="prod", amount=usd("0.20")))
    view = ledger.view("prod")
    assert view["status_reason"] == "auto_halt: hourly_vs_rolling_avg"


def test_expiry_releases_holds_of_many_agents_in_shared_units(runtime: Runtime, clock: FrozenClock) -> None:
    """More agents than one expiry unit holds (``EXPIRE_PER_UNIT``), some with two holds and
    a task hold: every hold expires once, every agent's held amount and task counter return
    to zero, and a hold not yet due stays open."""
    ledger = runtime.ledger
    n = holds.EXPIRE_PER_UNIT * 2 + 7
    for i in range(n):
        make_agent(ledger, f"a{i:03d}", daily="1.00")
        ledger.authorize(f"a{i:03d}", req("0.10", ttl_seconds=60, task_id="t" if i % 3 == 0 else None))
        if i % 2:
            ledger.authorize(f"a{i:03d}", req("0.05", ttl_seconds=60))
    keep = ledger.authorize("a000", req("0.20", ttl_seconds=3600))
    clock.advance(timedelta(seconds=61))
    assert ledger.expire_holds() == n + n // 2
    assert ledger.expire_holds() == 0
    for i in range(n):
        view = ledger.view(f"a{i:03d}")
        assert view["held"] == ("0.200000" if i == 0 else "0.000000")
    with runtime.store.read() as conn:
        assert q.counters_in_scope(conn, "a000", "per_task", ["t"]) in ({}, {"t": 0})
        assert q.get_hold(conn, keep["id"])["status"] == "open"
