"""Authorizations (holds): check caps and take the hold in one atomic step, then settle
the actual amount, void, or let the hold expire (DESIGN.md §1.3)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spendwarden.clock import to_us
from spendwarden.db import hot
from spendwarden.db import queries as q
from spendwarden.errors import AgentHalted, AgentRevoked, InvalidState, NotFound, PolicyDenied
from spendwarden.events import SpendEvent
from spendwarden.ledger import authorize_pg, authorize_sqlite
from spendwarden.ledger import idempotency as idem
from spendwarden.ledger.approval import approved, cap_exceeded, new_hold
from spendwarden.ledger.caps import first_denial
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.policy import policy_violation
from spendwarden.ledger.pricing import priced
from spendwarden.ledger.record import append, current_spend, spend_from_counters
from spendwarden.ledger.render import hold_public, transaction_public
from spendwarden.ledger.types import Agent, AuthorizeRequest
from spendwarden.ledger.unit import agent_unit, agents_unit
from spendwarden.ledger.windows import HOUR_US, WINDOW_CAPS

EXPIRE_PER_UNIT = 100  # agents whose expired holds are released in one transaction


def ensure_can_spend(agent: Agent) -> None:
    if agent.status == "halted":
        raise AgentHalted(agent_id=agent.id, reason=agent.status_reason)
    if agent.status == "revoked":
        raise AgentRevoked(agent_id=agent.id)


def committed_spend(ctx: TxContext, task_id: str | None) -> dict[str, int]:
    """What counts against each cap now: settled spend in the window plus open holds."""
    spent = _prefetched_spend(ctx, task_id)
    if spent is None:
        spent = current_spend(ctx, ctx.now_us, task_id)
    held = int(ctx.state["held"])
    committed = {cap: spent[cap] + held for cap in WINDOW_CAPS}
    if task_id:
        committed["per_task"] = spent["per_task"] + spent["_task_held"]
    return committed


def _prefetched_spend(ctx: TxContext, task_id: str | None) -> dict[str, int] | None:
    """``current_spend`` from the counters ``agent_unit`` read with the lock (once, and only
    for the hour and task they were read for; nothing has been written yet)."""
    prefetched, ctx.prefetched = ctx.prefetched, None
    if prefetched is None or prefetched[:2] != (ctx.now_us // HOUR_US, task_id):
        return None
    return spend_from_counters(prefetched[2], task_id)


def authorize(
    core: LedgerCore,
    agent_id: str,
    req: AuthorizeRequest,
    *,
    idempotency_key: str | None = None,
    try_fast_path: bool = True,
    key_hash: str | None = None,
) -> dict[str, Any]:
    """Hold ``req.amount`` against every cap, or raise why not. A request without an
    idempotency key first takes its backend's fast path (``authorize_pg``: one round trip
    to ``spendwarden_authorize``; ``authorize_sqlite``: four lean statements on the writer),
    which answers approvals and cap denials; everything else, and ``try_fast_path=False``,
    takes the locked path below, which words every error. ``key_hash``: SQLite's fast path
    checks the request's key in its own read (``KeyRefused`` when it no longer may)."""
    if try_fast_path and idempotency_key is None:
        if not core.store.is_postgres:
            body = authorize_sqlite.try_authorize(core, agent_id, req, key_hash=key_hash)
        else:
            body = authorize_pg.try_authorize(core, agent_id, req) if in_database(core) else None
        if body is not None:
            return body
    fingerprint = idem.request_fingerprint("authorize", req.__dict__, idempotency_key)
    with agent_unit(core, agent_id, with_spend=True, task_id=req.task_id) as ctx:
        cached = idem.replay(ctx.conn, agent_id, idempotency_key, fingerprint)
        if cached is not None:
            return cached
        ensure_can_spend(ctx.agent)
        violation = policy_violation(ctx.agent.policy, vendor=req.vendor, rail=req.rail, tool=req.tool)
        if violation is not None:
            raise PolicyDenied(violation.message, rule=violation.rule, value=violation.value)
        committed = committed_spend(ctx, req.task_id)
        denial = first_denial(ctx.agent.caps, committed, req.amount)
        if denial is not None:
            raise cap_exceeded(denial)
        hold = new_hold(agent_id, req, ctx.now_us, req.ttl_seconds or core.settings.hold_ttl_seconds)
        hot.insert_hold(ctx.conn, ctx.store.is_postgres, hold)
        _move_held(ctx, hold, req.amount)
        body = approved(hold, ctx.agent.caps, committed)
        idem.remember(ctx.conn, agent_id, idempotency_key, fingerprint, body, ctx.now_us)
    return body


def in_database(core: LedgerCore) -> bool:
    """Whether authorizations go to ``spendwarden_authorize`` first (``authorize_pg``)."""
    return core.store.is_postgres and core.settings.authorize_in_database


def _move_held(ctx: TxContext, hold: dict[str, Any], delta: int) -> None:
    ctx.state["held"] = int(ctx.state["held"]) + delta
    if hold["task_id"]:
        hot.add_held(ctx.conn, ctx.store.is_postgres, ctx.agent.id, "per_task", hold["task_id"], delta)


def _open_hold_of(ctx: TxContext, hold_id: str) -> dict[str, Any]:
    hold = q.get_hold(ctx.conn, hold_id)
    if hold is None or hold["agent_id"] != ctx.agent.id:
        raise NotFound("No such authorization.", authorization_id=hold_id)
    return hold


def settle(
    core: LedgerCore,
    agent_id: str,
    hold_id: str,
    event: SpendEvent,
    *,
    idempotency_key: str | None = None,
    price_provider: str | None = None,
) -> dict[str, Any]:
    """Turn a hold into a ledger row for the actual amount (which may exceed the hold).

    ``price_provider`` (possibly ``""``) means: price the usage once the hold's model and
    vendor have filled what the call left out.
    """
    fingerprint = idem.request_fingerprint("settle:" + hold_id, event.__dict__, idempotency_key)
    with agent_unit(core, agent_id) as ctx:
        cached = idem.replay(ctx.conn, agent_id, idempotency_key, fingerprint)
        if cached is not None:
            return cached
        hold = _open_hold_of(ctx, hold_id)
        event = _with_hold_defaults(event, hold)
        if price_provider is not None:
            event = priced(core, event, price_provider or None, ctx.now)
        if hold["status"] == "settled":
            txn = q.get_transaction(ctx.conn, hold["transaction_id"])
            assert txn is not None
            if txn["amount"] != event.amount:
                raise InvalidState(
                    "This authorization is already settled for another amount.", status="settled"
                )
            return {"authorization": hold_public(hold), "transaction": transaction_public(txn)}
        if hold["status"] == "voided":
            raise InvalidState("This authorization was voided.", status="voided")
        if hold["status"] == "open":
            _move_held(ctx, hold, -hold["amount"])
        txn = append(ctx, event, hold_id=hold_id)
        closed = {"status": "settled", "closed_at": ctx.now_us, "transaction_id": txn["id"]}
        q.close_hold(ctx.conn, hold_id, closed)
        hold.update(closed)
        body = {"authorization": hold_public(hold), "transaction": transaction_public(txn)}
        idem.remember(ctx.conn, agent_id, idempotency_key, fingerprint, body, ctx.now_us)
    return body


def _with_hold_defaults(event: SpendEvent, hold: dict[str, Any]) -> SpendEvent:
    """Fill what the settle call left out from what the authorization said."""
    return replace(
        event,
        vendor=event.vendor or hold["vendor"],
        rail=event.rail if event.rail != "llm_api" or not hold["rail"] else hold["rail"],
        tool=event.tool or hold["tool"],
        model=event.model or hold["model"],
        endpoint=event.endpoint or hold["endpoint"],
        task_id=event.task_id or hold["task_id"],
        user_id=event.user_id or hold["user_id"],
        kind=event.kind if event.kind != "llm_call" or not hold["kind"] else hold["kind"],
        source="api",
        external_id=f"hold:{hold['id']}",
    )


def void(core: LedgerCore, agent_id: str, hold_id: str) -> dict[str, Any]:
    with agent_unit(core, agent_id) as ctx:
        hold = _open_hold_of(ctx, hold_id)
        if hold["status"] == "settled":
            raise InvalidState("This authorization is already settled.", status="settled")
        if hold["status"] == "open":
            _move_held(ctx, hold, -hold["amount"])
            closed = {"status": "voided", "closed_at": ctx.now_us}
            q.close_hold(ctx.conn, hold_id, closed)
            hold.update(closed)
        return hold_public(hold)


def expire_holds(core: LedgerCore, *, batch: int = 500, per_unit: int = EXPIRE_PER_UNIT) -> int:
    """Release holds past their TTL; returns how many expired. Safe to run on any replica.

    ``per_unit`` agents share one transaction (``agents_unit`` locks them in id order):
    holds abandoned across thousands of agents (a crashed fleet, a load test) expired one
    locking transaction per agent, and that stream of commits competed with live requests.
    """
    now_us = to_us(core.clock.now())
    with core.store.read() as conn:
        agents = q.expired_hold_agents(conn, now_us, batch)
    expired = 0
    for start in range(0, len(agents), per_unit):
        with agents_unit(core, agents[start : start + per_unit]) as contexts:
            for agent_id, ctx in contexts.items():
                for hold in q.expired_holds_of(ctx.conn, agent_id, now_us):
                    _move_held(ctx, hold, -hold["amount"])
                    q.close_hold(ctx.conn, hold["id"], {"status": "expired", "closed_at": ctx.now_us})
                    expired += 1
    return expired
