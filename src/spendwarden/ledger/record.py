"""Appending a spend to the ledger: chain it, count it, and react to breaches.

The ledger tells the truth: a spend is recorded even when it breaks a cap; then the
agent is halted and a ``cap_breach`` alert opens (DESIGN.md §1.1).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import orjson

from spendwarden.alerts.lifecycle import alert_public, raise_alert
from spendwarden.clock import from_us, iso, to_us, utc
from spendwarden.db import hot
from spendwarden.db import queries as q
from spendwarden.events import SpendEvent
from spendwarden.ids import new_id, new_ids
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.caps import CapDenial, breaches, headroom
from spendwarden.ledger.chain import TXN_FIELDS, row_hash
from spendwarden.ledger.context import TxContext
from spendwarden.ledger.halt import HaltDecision, HaltHistory, evaluate_halt_rules
from spendwarden.ledger.horizon import GRACE_US
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.retention import before_late_spends, past_amounts
from spendwarden.ledger.types import dumps
from spendwarden.ledger.windows import (
    DAY_US,
    HOUR_US,
    WINDOW_CAPS,
    previous_hour_keys,
    window_key,
    window_keys_us,
)
from spendwarden.money import format_amount

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def counter_delta(status: str, amount: int) -> int:
    """How a row moves spend counters: settled adds, refunded gives back, others count nothing."""
    if status == "settled":
        return amount
    if status == "refunded":
        return -amount
    return 0


def build_row(ctx: TxContext, event: SpendEvent, hold_id: str | None) -> dict[str, Any]:
    usage = event.usage
    occurred = utc(event.occurred_at) if event.occurred_at is not None else ctx.now
    return {
        "id": new_id("txn_"),
        "agent_id": ctx.agent.id,
        "seq": int(ctx.state["seq"]) + 1,
        "amount": event.amount,
        "original_amount": event.original_amount,
        "original_currency": event.original_currency,
        "rail": event.rail,
        "vendor": event.vendor,
        "tool": event.tool,
        "endpoint": event.endpoint,
        "model": event.model,
        "input_tokens": usage.input if usage else None,
        "output_tokens": usage.output if usage else None,
        "cache_read_tokens": usage.cache_read if usage else None,
        "cache_write_tokens": usage.cache_write if usage else None,
        "kind": event.kind,
        "status": event.status,
        "attempt": event.attempt,
        "task_id": event.task_id,
        "user_id": event.user_id,
        "counterparty_agent_id": event.counterparty_agent_id,
        "description": event.description,
        "metadata": dumps(event.metadata) if event.metadata else None,
        "source": event.source,
        "external_id": event.external_id,
        "occurred_at": to_us(occurred),
        "recorded_at": ctx.now_us,
        "price_version": event.price_version,
        "hold_id": hold_id,
        "prev_id": ctx.state["head_id"],
    }


# ``build_row``'s fields in ``TXN_FIELDS`` order, read from the event in one call per run.
_HEAD = attrgetter(
    "amount", "original_amount", "original_currency", "rail", "vendor", "tool", "endpoint", "model"
)
_MIDDLE = attrgetter(
    "kind", "status", "attempt", "task_id", "user_id", "counterparty_agent_id", "description"
)
_TOKENS = attrgetter("input", "output", "cache_read", "cache_write")
_NO_USAGE = (None, None, None, None)


def seal_rows(ctx: TxContext, events: list[SpendEvent]) -> list[tuple[Any, ...]]:
    """``chain_row(build_row(event, None))`` for many events of the locked agent, in one tight
    loop: rows come out as tuples in ``TXN_COLUMNS`` order with exactly the values and hashes
    those two would give (the canonical form is the same JSON array), and the state row's
    head advances once."""
    state = ctx.state
    agent_id, now_us = ctx.agent.id, ctx.now_us
    seq, prev_id, prev_hash = int(state["seq"]), state["head_id"], state["head_hash"]
    sha256, encode = hashlib.sha256, orjson.dumps
    out: list[tuple[Any, ...]] = []
    for txn_id, e in zip(new_ids("txn_", len(events)), events, strict=True):
        seq += 1
        usage, when = e.usage, e.occurred_at
        if when is None:
            occurred = now_us
        else:
            delta = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)) - _EPOCH
            occurred = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        tokens = _NO_USAGE if usage is None else _TOKENS(usage)
        fields = (
            txn_id, agent_id, seq, *_HEAD(e), *tokens, *_MIDDLE(e),
            dumps(e.metadata) if e.metadata else None, e.source, e.external_id, occurred, now_us,
            e.price_version, None, prev_id,
        )  # fmt: skip
        digest = sha256(prev_hash.encode() + encode(fields)).hexdigest()
        out.append((*fields, prev_hash, digest))
        prev_id, prev_hash = txn_id, digest
    if out:
        state.update(seq=seq, head_id=prev_id, head_hash=prev_hash)
    return out


def chain_row(ctx: TxContext, row: dict[str, Any]) -> dict[str, Any]:
    """Seal the row onto the agent's chain and advance the head in the state row."""
    row["prev_hash"] = ctx.state["head_hash"]
    row["hash"] = row_hash(row["prev_hash"], row, TXN_FIELDS)
    ctx.state.update(seq=row["seq"], head_id=row["id"], head_hash=row["hash"])
    return row


def counter_keys(occurred_us: int, task_id: str | None) -> list[tuple[str, str]]:
    keys = list(window_keys_us(occurred_us).items())
    if task_id:
        keys.append(("per_task", task_id))
    return keys


def counter_updates(agent_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The (amount, count) to add per window and task counter for one agent's new rows."""
    return counter_sums(agent_id, [(r["status"], r["amount"], r["occurred_at"], r["task_id"]) for r in rows])


def counter_sums(agent_id: str, items: list[tuple[str, int, int, str | None]]) -> list[dict[str, Any]]:
    """``counter_updates`` over ``(status, amount, occurred_us, task_id)``: rows are summed per
    hour and per task first (every window key depends only on the hour), then each hour's
    sum is added to its five window counters."""
    hours: dict[int, list[int]] = {}
    tasks: dict[str, list[int]] = {}
    for status, amount, occurred, task_id in items:
        delta = amount if status == "settled" else (-amount if status == "refunded" else 0)
        hour = occurred // HOUR_US
        acc = hours.get(hour)
        if acc is None:
            hours[hour] = [delta, 1]
        else:
            acc[0] += delta
            acc[1] += 1
        if task_id:
            acc = tasks.get(task_id)
            if acc is None:
                tasks[task_id] = [delta, 1]
            else:
                acc[0] += delta
                acc[1] += 1
    sums: dict[tuple[str, str], list[int]] = {}
    for hour, (amount, count) in hours.items():
        for pair in window_keys_us(hour * HOUR_US).items():
            acc = sums.get(pair)
            if acc is None:
                sums[pair] = [amount, count]
            else:
                acc[0] += amount
                acc[1] += count
    for task_id, pair_sum in tasks.items():
        sums[("per_task", task_id)] = pair_sum
    return [
        {"agent_id": agent_id, "scope": scope, "period": period, "amount": amount, "count": count}
        for (scope, period), (amount, count) in sums.items()
    ]


# Halt rules that decide something (the others only tune these).
HALT_SWITCHES = ("max_single_charge", "daily_vs_prior_day", "hourly_vs_rolling_avg")


def can_break(ctx: TxContext) -> bool:
    """Whether a spend can break a cap or trip a halt rule of this agent at all: with no
    cap set and every halt rule off, ``check_after_spend`` can only find nothing."""
    agent = ctx.agent
    return any(v is not None for v in agent.caps.values()) or any(
        agent.halt_rules.get(k) is not None for k in HALT_SWITCHES
    )


def add_counters(ctx: TxContext, agent_id: str, rows: list[dict[str, Any]]) -> None:
    """Add a batch of rows to the window and task counters (one prepared upsert)."""
    hot.add_spend(ctx.conn, ctx.store.is_postgres, counter_updates(agent_id, rows))


def append(ctx: TxContext, event: SpendEvent, *, hold_id: str | None = None) -> dict[str, Any]:
    """Record one spend for the locked agent and run everything that reacts to it."""
    row = chain_row(ctx, build_row(ctx, event, hold_id))
    q.insert_transaction(ctx.conn, row)
    if row["occurred_at"] < ctx.now_us - GRACE_US:  # a late spend: its windows may be pruned
        before_late_spends(ctx, [(ctx.agent.id, row["occurred_at"])])
    add_counters(ctx, ctx.agent.id, [row])
    if row["status"] == "settled" and row["amount"] > 0:
        check_after_spend(ctx, row)
    for observer in ctx.observers:
        observer.on_transactions(ctx, [row])
    ctx.emit("transaction", "transaction.recorded", transaction_public(row))
    return row


def current_spend(ctx: TxContext, at_us: int, task_id: str | None) -> dict[str, int]:
    """Settled spend in each window containing ``at_us`` (and in the task), from counters;
    ``_task_held`` is what open holds reserve in the task."""
    found = None
    if ctx.counters_known is not None:  # only the bulk path prefetches: nothing to build otherwise
        found = _known_counters(ctx.counters_known, spend_read_keys(at_us, task_id))
    if found is None:
        found = hot.counters(ctx.conn, ctx.store.is_postgres, ctx.agent.id, window_keys_us(at_us), task_id)
    return spend_from_counters(found, task_id)


def spend_read_keys(at_us: int, task_id: str | None) -> dict[str, str]:
    """Scope -> period of every counter ``current_spend`` reads for ``at_us`` and the task."""
    return {**window_keys_us(at_us), "per_task": task_id or ""}


def _known_counters(
    known: dict[tuple[str, str], tuple[int, int] | None] | None, keys: dict[str, str]
) -> dict[str, tuple[int, int]] | None:
    """``hot.counters``'s answer from the unit's prefetched counters, or None when any key
    was not prefetched."""
    if known is None:
        return None
    found: dict[str, tuple[int, int]] = {}
    for scope, period in keys.items():
        if (scope, period) not in known:
            return None
        value = known[(scope, period)]
        if value is not None:
            found[scope] = value
    return found


def spend_from_counters(found: dict[str, tuple[int, int]], task_id: str | None) -> dict[str, int]:
    """``current_spend``'s answer from (settled, held) per scope as ``db/hot.counters`` reads them."""
    spent = {scope: found.get(scope, (0, 0))[0] for scope in WINDOW_CAPS}
    if task_id:
        spent["per_task"], spent["_task_held"] = found.get("per_task", (0, 0))
    return spent


def check_after_spend(ctx: TxContext, row: dict[str, Any]) -> None:
    """Halt the agent when the recorded spend broke a cap or tripped a halt rule."""
    spent = current_spend(ctx, row["occurred_at"], row["task_id"])
    broken = breaches(ctx.agent.caps, spent, row["amount"])
    decision = evaluate_halt_rules(ctx.agent.halt_rules, _halt_history(ctx, row, spent))
    if not broken and decision is None:
        return
    context = _halt_context(ctx, spent)
    for denial in broken:
        _raise_breach(ctx, row, denial, context)
    if decision is not None:
        _raise_auto_halt(ctx, row, decision, context)
    reason = f"cap_breach: {broken[0].cap}" if broken else f"auto_halt: {decision.rule}"  # type: ignore[union-attr]
    halt_agent(ctx, actor="system", reason=reason)


def _halt_history(ctx: TxContext, row: dict[str, Any], spent: dict[str, int]) -> HaltHistory:
    rules = ctx.agent.halt_rules
    at_us = row["occurred_at"]
    at = from_us(at_us)
    prior_day = 0
    previous_hours: list[int] = []
    if rules.get("daily_vs_prior_day") is not None:
        key = window_key("daily", at - timedelta(days=1))
        prior_day = _look_back(ctx, "daily", [at_us - DAY_US], [key]).get(key, 0)
    if rules.get("hourly_vs_rolling_avg") is not None:
        hours = int(rules.get("rolling_hours", 24))
        keys = previous_hour_keys(at, hours)
        hour = at_us - at_us % HOUR_US
        found = _look_back(ctx, "hourly", [hour - i * HOUR_US for i in range(1, hours + 1)], keys)
        previous_hours = [found.get(k, 0) for k in keys] if found else []
    return HaltHistory(
        amount=row["amount"],
        today=spent.get("daily", 0),
        prior_day=prior_day,
        this_hour=spent.get("hourly", 0),
        previous_hours=previous_hours,
    )


def _look_back(ctx: TxContext, scope: str, moments_us: list[int], keys: list[str]) -> dict[str, int]:
    """Net spend per period of the ``scope`` windows holding ``moments_us`` (keyed
    ``keys``): windows closed long ago through ``past_amounts`` (their counters may be
    pruned), the others from their counters."""
    past = past_amounts(ctx, scope, moments_us)
    rest = [k for k in keys if k not in past]
    found = q.counters_in_scope(ctx.conn, ctx.agent.id, scope, rest) if rest else {}
    return {**found, **{k: v for k, v in past.items() if v}}


def _halt_context(ctx: TxContext, spent: dict[str, int]) -> dict[str, Any]:
    """What a person needs in a halt notification: last five actions, spend and headroom."""
    recent = q.recent_transactions(ctx.conn, ctx.agent.id, 5)
    with_holds = {c: spent.get(c, 0) + int(ctx.state["held"]) for c in WINDOW_CAPS}
    with_holds["per_task"] = spent.get("per_task", 0)
    return {
        "last_actions": [
            {
                "id": r["id"],
                "amount_usd": format_amount(r["amount"]),
                "vendor": r["vendor"],
                "tool": r["tool"],
                "rail": r["rail"],
                "status": r["status"],
                "occurred_at": iso(r["occurred_at"]),
            }
            for r in recent
        ],
        "spend": {c: format_amount(spent.get(c, 0)) for c in WINDOW_CAPS},
        "headroom": {c: format_amount(v) for c, v in headroom(ctx.agent.caps, with_holds).items()},
    }


def _raise_breach(ctx: TxContext, row: dict[str, Any], denial: CapDenial, context: dict[str, Any]) -> None:
    period = (
        row["task_id"]
        if denial.cap == "per_task"
        else (
            row["id"]
            if denial.cap == "per_transaction"
            else window_key(denial.cap, from_us(row["occurred_at"]))
        )
    )
    figures = {
        "cap": denial.cap,
        "limit_usd": format_amount(denial.limit),
        "spent_before_usd": format_amount(denial.spent),
        "amount_usd": format_amount(denial.requested),
        "spent_usd": format_amount(denial.spent + denial.requested),
        "transaction_id": row["id"],
        **context,
    }
    alert, new = raise_alert(
        ctx.conn,
        agent_id=ctx.agent.id,
        rule="cap_breach",
        severity="critical",
        dedupe_key=f"cap_breach:{ctx.agent.id}:{denial.cap}:{period}",
        title=f"{ctx.agent.id} broke its {denial.cap} cap",
        message=(
            f"Recorded spend {figures['spent_usd']} USD exceeds the {denial.cap} cap of "
            f"{figures['limit_usd']} USD; the agent is halted."
        ),
        figures=figures,
        at=ctx.now_us,
    )
    ctx.emit("alert", "alert.opened" if new else "alert.updated", alert_public(alert))


def _raise_auto_halt(
    ctx: TxContext, row: dict[str, Any], decision: HaltDecision, context: dict[str, Any]
) -> None:
    figures = {"halt_rule": decision.rule, **decision.figures, "transaction_id": row["id"], **context}
    alert, new = raise_alert(
        ctx.conn,
        agent_id=ctx.agent.id,
        rule="auto_halt",
        severity="critical",
        dedupe_key=f"auto_halt:{ctx.agent.id}:{decision.rule}:{row['id']}",
        title=f"{ctx.agent.id} halted by rule {decision.rule}",
        message=decision.message,
        figures=figures,
        at=ctx.now_us,
    )
    ctx.emit("alert", "alert.opened" if new else "alert.updated", alert_public(alert))


def halt_agent(ctx: TxContext, *, actor: str, reason: str) -> None:
    """Set the agent to halted (idempotent; a revoked agent stays revoked)."""
    agent = ctx.agent
    if agent.status != "active":
        return
    before = {"status": agent.status, "status_reason": agent.status_reason}
    agent.status, agent.status_reason, agent.updated_at = "halted", reason, ctx.now_us
    q.update_agent(
        ctx.conn, agent.id, {"status": "halted", "status_reason": reason, "updated_at": ctx.now_us}
    )
    append_audit(
        ctx.conn,
        postgres=ctx.store.is_postgres,
        actor=actor,
        action="agent.halted",
        target_type="agent",
        target_id=agent.id,
        at=ctx.now_us,
        reason=reason,
        before=before,
        after={"status": "halted", "status_reason": reason},
    )
    ctx.emit(
        "agent", "agent.halted", {"agent_id": agent.id, "status": "halted", "reason": reason, "actor": actor}
    )
