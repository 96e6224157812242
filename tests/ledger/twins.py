"""The twin workload: two runtimes, one taking an authorization fast path and one the
locked path, get the same requests for twin agents and must answer and count alike
(``test_authorize_pg``: PostgreSQL's database function; ``test_authorize_sqlite``: the
SQLite writer's lean statements); and the changes another process makes between requests."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.errors import (
    AgentHalted,
    AgentNotFound,
    AgentRevoked,
    CapExceeded,
    PolicyDenied,
    SpendwardenError,
)
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime


def answer(call: Callable[[], dict[str, Any]]) -> tuple[str, Any, str | None]:
    """(kind, what must match, hold id): an answer without what differs by construction."""
    try:
        body = call()
    except SpendwardenError as exc:
        return exc.code, {k: v[1:] if k == "agent_id" else v for k, v in exc.details.items()}, None
    if "headroom" in body:
        return "approved", (body["amount_usd"], body["expires_at"], body["headroom"]), body["id"]
    if "transaction" in body:
        return "settled", (body["transaction"]["amount_usd"], body["transaction"]["task_id"]), None
    return body["status"], (body["amount_usd"], body["closed_at"]), None


CAPS: list[dict[str, str]] = [
    {"daily": "5.00"},
    {"per_transaction": "0.80", "hourly": "2.00", "per_task": "1.50"},
    {"weekly": "6.00", "monthly": "7.00", "total": "8.00"},
    {"per_task": "0.90", "daily": "3.00"},
]


def run_twin_workload(fast: Runtime, locked: Runtime, clock: FrozenClock) -> None:
    """Twin agents get the same 400 requests (authorizations with and without tasks and
    policies, settlements over the hold, voids, hours and days passing), one through each
    runtime: every answer, and each agent's money at the end, must be the same."""
    rng = random.Random(8)
    for i, caps in enumerate(CAPS):
        policy = {"blocked_vendors": ["shady"]} if i % 2 else {"allowed_tools": ["chat", "search"]}
        if i == 2:
            policy = {}  # decided on the row at first sight, on PostgreSQL
        for prefix, rt in (("f", fast), ("l", locked)):
            spec = AgentSpec(
                id=f"{prefix}{i}", tier="custom", caps={k: usd(v) for k, v in caps.items()}, policy=policy
            )
            rt.ledger.create_agent(spec, "test")
    open_holds: dict[str, list[tuple[str, str]]] = {f"{i}": [] for i in range(len(CAPS))}
    for step in range(400):
        n = str(rng.randrange(len(CAPS)))
        roll = rng.random()
        call: Callable[[Runtime, str, str], dict[str, Any]]
        if roll < 0.6:
            req = AuthorizeRequest(
                amount=usd(f"{rng.choice([0.05, 0.2, 0.45, 0.7, 0.95])}"),
                vendor=rng.choice(["openai", "openai", "shady"]),
                tool=rng.choice(["chat", "search", "browse"]),
                task_id=rng.choice([None, "t1", "t2"]),
            )
            call = partial(lambda r, rt, agent, _hold: rt.ledger.authorize(agent, r), req)
            holds = ("", "")
        elif roll < 0.85 and open_holds[n]:
            holds = open_holds[n].pop(rng.randrange(len(open_holds[n])))
            if rng.random() < 0.7:
                amount = usd(f"{rng.choice([0.01, 0.3, 0.9, 1.6])}")
                call = partial(
                    lambda a, rt, agent, hold: rt.ledger.settle(
                        agent, hold, SpendEvent(agent_id=agent, amount=a)
                    ),
                    amount,
                )
            else:
                call = lambda rt, agent, hold: rt.ledger.void(agent, hold)  # noqa: E731
        elif roll < 0.95:
            clock.advance(timedelta(minutes=rng.choice([7, 40, 200, 1500])))
            fast.ledger.expire_holds()
            continue
        else:  # a person looks at a halted pair and lets it go on
            if fast.ledger.view("f" + n)["status"] == "halted":
                fast.ledger.resume("f" + n, "test", "checked")
                locked.ledger.resume("l" + n, "test", "checked")
            continue
        *out_f, hold_f = answer(partial(call, fast, "f" + n, holds[0]))
        *out_l, hold_l = answer(partial(call, locked, "l" + n, holds[1]))
        assert out_f == out_l, step
        if hold_f is not None and hold_l is not None:
            open_holds[n].append((hold_f, hold_l))
    for i in range(len(CAPS)):
        view_f, view_l = fast.ledger.view(f"f{i}"), locked.ledger.view(f"l{i}")
        for field in ("status", "spend", "held", "headroom"):
            assert view_f[field] == view_l[field], (i, field)


def run_changes_by_another_process(fast: Runtime, other: Runtime) -> None:
    """``fast`` authorizes for an agent while ``other`` (another process on the same
    database) changes its caps, its policy, halts, resumes and revokes it between requests:
    each next authorization obeys the change."""
    fast.ledger.create_agent(AgentSpec(id="bot", tier="custom", caps={"daily": usd("10")}), "test")
    req = AuthorizeRequest(amount=usd("1"), vendor="openai")
    assert fast.ledger.authorize("bot", req)["headroom"] == {"daily": "9.000000"}

    other.ledger.update_agent("bot", {"caps": {"daily": usd("1.5")}}, "test")
    with pytest.raises(CapExceeded) as denied:
        fast.ledger.authorize("bot", req)
    assert (denied.value.details["limit"], denied.value.details["spent"]) == ("1.500000", "1.000000")

    other.ledger.update_agent(
        "bot", {"caps": {"daily": usd("10")}, "policy": {"blocked_vendors": ["openai"]}}, "test"
    )
    with pytest.raises(PolicyDenied):
        fast.ledger.authorize("bot", req)

    other.ledger.update_agent("bot", {"policy": {}}, "test")
    other.ledger.halt("bot", "test", "investigating")
    with pytest.raises(AgentHalted) as halted:
        fast.ledger.authorize("bot", req)
    assert halted.value.details["reason"] == "investigating"
    other.ledger.resume("bot", "test", "fine")
    assert fast.ledger.authorize("bot", req)["headroom"] == {"daily": "8.000000"}

    other.ledger.revoke("bot", "test", "retired")
    with pytest.raises(AgentRevoked):
        fast.ledger.authorize("bot", req)
    with pytest.raises(AgentNotFound):
        fast.ledger.authorize("nobody", req)
    assert fast.ledger.view("bot")["held"] == "2.000000"  # refusals wrote nothing
