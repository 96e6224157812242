"""The detectors wired into the ledger: state in, facts in, alerts out — inside the agent's unit.

``SignalsObserver`` runs in the same transaction as every recorded spend and task event:
it loads the agent's ``AgentSignalState`` from its state row, feeds the pure engine, opens
and resolves alerts through ``alerts.lifecycle`` (which also queues notifications) and
writes the state back (``agent_unit`` flushes it) with ``watch_until``. A periodic job ticks,
on the injected clock, for the rules that fire on absence or on the calendar: every 30 s the
agents with running tasks, open alerts, open holds or recent events, and idle agents once
every ten minutes (``cadence``). Thresholds: ``Settings.signals`` fleet-wide, under each
agent's ``signals`` overrides.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from spendwarden.alerts.lifecycle import alert_public, raise_alert, resolve_by_key
from spendwarden.clock import from_us, to_us
from spendwarden.config import Settings
from spendwarden.db import hot
from spendwarden.db import queries_signals as qs
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.context import LedgerCore, TxContext
from spendwarden.ledger.record import current_spend, spend_from_counters
from spendwarden.ledger.types import Agent, loads
from spendwarden.ledger.unit import agent_unit
from spendwarden.ledger.windows import HOUR_US, WINDOW_CAPS, window_keys_us
from spendwarden.signals import (
    DEFAULT_CONFIG,
    ActiveHours,
    AgentContext,
    AgentSignalState,
    SignalConfig,
    SignalOutcome,
    TaskEventFact,
    TxnFact,
    effective,
    find_payment_cycle,
    observe_payment_cycle,
    observe_task_event,
    observe_transaction,
    tick,
    validate_overrides,
    watch_until,
)
from spendwarden.signals.cadence import IdleSchedule

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

log = logging.getLogger("spendwarden.signals")
TICK_SECONDS = 30  # clock time between ticks of the absence and calendar rules
RECENT = timedelta(hours=24)
DRY_RUN_BATCH = 100  # agents read per statement by the tick's dry run (then a pause)
DEFAULT_SILENCE_MINUTES = 15  # the agents column default: then the fleet setting applies


# Parsed states by agent, with the exact JSON text they were saved as: when the state row
# still holds that text (no other replica wrote since, no rollback), the parse is skipped.
# A unit takes its entry out while it works and puts it back on save, so a rolled-back
# unit can never leave a mutated state behind.
_parsed: dict[str, tuple[str, AgentSignalState]] = {}
_lock = threading.Lock()
# Each entry is ~10 KB of Python objects: 50,000 held half a gigabyte once 100,000 agents had
# written in a day (RSS 992 MB at 400,000 agents). The agents that write again soon are few.
MAX_CACHED = 5_000


def load_state(ctx: TxContext) -> AgentSignalState:
    text = ctx.state.get("signal_state")
    with _lock:
        hit = _parsed.pop(ctx.agent.id, None)
    if hit is not None and hit[0] == text:
        return hit[1]
    return AgentSignalState.from_json(orjson.loads(text)) if text else AgentSignalState()


def save_state(ctx: TxContext, state: AgentSignalState) -> None:
    text = state.to_text()
    ctx.state["signal_state"] = text
    ctx.state["signal_watch_until"] = watch_until(state) * 1_000_000
    with _lock:
        if len(_parsed) >= MAX_CACHED:
            _parsed.pop(next(iter(_parsed)))
        _parsed[ctx.agent.id] = (text, state)


@lru_cache(maxsize=4096)
def _valid_overrides(items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """Keep the overrides the engine accepts; a bad one must never break the write path."""
    kept = []
    for name, value in items:
        try:
            validate_overrides({name: value})
            kept.append((name, value))
        except ValueError as exc:
            log.warning("ignoring signal override: %s", exc)
    return tuple(kept)


@lru_cache(maxsize=4096)
def _active_hours(text: str) -> ActiveHours | None:
    try:
        return ActiveHours.from_json(orjson.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring active_hours %s: %s", text, exc)
        return None


def agent_context(
    ctx: TxContext, at_us: int | None, task_id: str | None, spent: dict[str, int] | None = None
) -> AgentContext:
    """The agent's settings and, when it has caps, its spend per cap window at ``at_us``
    (``spent``: that spend already read, as ``current_spend`` answers)."""
    agent = ctx.agent
    cap_spend: dict[str, int] = {}
    if agent.caps and at_us is not None:
        if spent is None:
            spent = current_spend(ctx, at_us, task_id)
        held = int(ctx.state["held"])
        cap_spend = {cap: spent.get(cap, 0) + held for cap in WINDOW_CAPS}
        if task_id:
            cap_spend["per_task"] = spent.get("per_task", 0) + spent.get("_task_held", 0)
    hours = None
    if agent.active_hours:
        hours = _active_hours(orjson.dumps(agent.active_hours, option=orjson.OPT_SORT_KEYS).decode())
    plain = tuple(sorted((k, v) for k, v in agent.signals.items() if _hashable(v)))
    overrides = dict(_valid_overrides(plain))
    silence = agent.silence_minutes if agent.silence_minutes != DEFAULT_SILENCE_MINUTES else None
    return AgentContext(
        agent_id=agent.id,
        tier=agent.tier,
        caps=dict(agent.caps),
        cap_spend=cap_spend,
        active_hours=hours,
        silence_minutes=silence,
        task_scope=agent.task_scope,
        overrides=overrides,
    )


def _hashable(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def txn_fact(row: dict[str, Any]) -> TxnFact:
    return TxnFact(
        amount=int(row["amount"]),
        occurred_at=from_us(row["occurred_at"]),
        rail=row["rail"],
        vendor=row["vendor"],
        tool=row["tool"],
        endpoint=row["endpoint"],
        model=row["model"],
        kind=row["kind"],
        status=row["status"],
        attempt=int(row["attempt"]),
        task_id=row["task_id"],
        counterparty_agent_id=row["counterparty_agent_id"],
    )


def apply_outcome(ctx: TxContext, out: SignalOutcome) -> None:
    """Open, escalate and resolve alerts as the engine decided; stream each change."""
    for cand in out.fired:
        row, new = raise_alert(
            ctx.conn,
            agent_id=cand.agent_id,
            rule=cand.rule,
            severity=cand.severity,
            dedupe_key=cand.dedupe_key,
            title=cand.title,
            message=cand.message,
            figures=cand.figures,
            at=to_us(cand.occurred_at),
        )
        ctx.emit("alert", "alert.opened" if new else "alert.updated", alert_public(row))
    for res in out.cleared:
        resolved = resolve_by_key(ctx.conn, res.dedupe_key, to_us(res.resolved_at))
        if resolved is not None:
            ctx.emit("alert", "alert.resolved", alert_public(resolved))


class SignalsObserver:
    """Observer of the ledger (spends and task events) and the periodic tick job."""

    def __init__(self, core: LedgerCore, settings: Settings) -> None:
        validate_overrides(settings.signals)
        self.core = core
        self.cfg: SignalConfig = effective(DEFAULT_CONFIG, settings.signals)
        self._last_tick: datetime | None = None
        self._idle = IdleSchedule()
        self.stopping = threading.Event()  # the runtime's, once installed

    def on_transactions(self, ctx: TxContext, rows: list[dict[str, Any]]) -> None:
        state = load_state(ctx)
        contexts: dict[tuple[int, str | None], AgentContext] = {}
        # Without caps the context holds no spend figures: one serves every row of the batch.
        shared = agent_context(ctx, None, None) if not ctx.agent.caps else None
        for row in rows:
            if row["status"] not in ("settled", "failed"):
                continue
            if shared is not None:
                actx = shared
            else:
                key: tuple[int, str | None] = (row["occurred_at"] // HOUR_US, row["task_id"])
                if key not in contexts or len(rows) == 1:
                    contexts[key] = agent_context(ctx, row["occurred_at"], row["task_id"])
                actx = contexts[key]
            apply_outcome(ctx, observe_transaction(state, txn_fact(row), actx, self.cfg))
            if row["counterparty_agent_id"] and row["status"] == "settled":
                self._payment_cycle(ctx, state, actx, row)
        save_state(ctx, state)

    def _payment_cycle(
        self, ctx: TxContext, state: AgentSignalState, actx: AgentContext, row: dict[str, Any]
    ) -> None:
        at = row["occurred_at"]
        window = timedelta(hours=self.cfg.payment_loop_window_hours)
        edges = qs.transfer_edges(ctx.conn, at - int(window.total_seconds() * 1_000_000), at)
        when = from_us(at)
        cycle = find_payment_cycle(
            ((a, b, from_us(t)) for a, b, t in edges), ctx.agent.id, when, window=window
        )
        apply_outcome(ctx, observe_payment_cycle(state, cycle, actx, when, self.cfg))

    def on_task_event(self, ctx: TxContext, event: dict[str, Any]) -> None:
        state = load_state(ctx)
        fact = TaskEventFact(
            type=event["type"].removeprefix("task."),
            task_id=event["task_id"],
            occurred_at=from_us(event["occurred_at"]),
            scope=loads(event["scope"]),
        )
        apply_outcome(ctx, observe_task_event(state, fact, agent_context(ctx, None, None), self.cfg))
        save_state(ctx, state)

    def tick_due(self) -> int:
        """Periodic job: tick every agent that may have a condition to raise or clear.

        Every round: agents with running tasks, open alerts or open holds, and those whose
        ``watch_until`` is ahead (recent events). Idle agents (changed in the last day,
        nothing on the minute scale left) once every ``cadence.IDLE_SECONDS``, spread
        over that period."""
        now = self.core.clock.now()
        previous = self._last_tick
        if previous is not None and now - previous < timedelta(seconds=TICK_SECONDS):
            return 0
        self._last_tick = now
        now_us, since = to_us(now), to_us(now - RECENT)
        now_s = now_us // 1_000_000
        with self.core.store.read() as conn:
            ids = set(qs.agents_with_running_tasks(conn))
            ids |= set(qs.agents_with_open_alerts(conn))
            ids |= set(qs.agents_to_watch(conn, now_us, since))
            if self._idle.stale(now_s):
                self._idle.load(qs.idle_agents(conn, now_us, since), now_s)
            elif previous is not None:
                self._idle.add(qs.idle_agents(conn, now_us, since, went_idle_after=to_us(previous)))
        # A first round (a start, a new leader) takes one round's share too, not the whole
        # idle fleet at once: at worst an agent waits one period more.
        last_s = to_us(previous) // 1_000_000 if previous else now_s - TICK_SECONDS
        ids.update(self._idle.due(last_s, now_s))
        ordered = sorted(ids)
        for start in range(0, len(ordered), DRY_RUN_BATCH):
            began = time.monotonic()
            acting = self._acting(ordered[start : start + DRY_RUN_BATCH], now)
            # Pace the round: as long a pause as the batch took. A tick over tens of
            # thousands of agents is seconds of Python; run flat out it held the GIL from
            # the request threads and stretched authorizations' p99 from 15 to 90 ms.
            if self.stopping.wait(time.monotonic() - began):
                return len(ids)
            for agent_id in acting:
                if self.stopping.is_set():
                    return len(ids)  # shutting down: the next round (on whichever replica leads) resumes
                try:
                    self.tick_agent(agent_id, now)
                except AgentNotFound:
                    continue
                except Exception:
                    log.exception("signals tick failed for agent %s", agent_id)
        return len(ids)

    def _acting(self, agent_ids: list[str], now: datetime) -> list[str]:
        """The agents whose tick would open, escalate or resolve an alert, found by a dry run
        of the pure engine on one snapshot read of their state, settings and counters.

        Why: a tick that changes nothing but the engine's clock (its rolling buckets move
        on; the next observation moves them the same way from wherever they were saved)
        need not lock the agent and write its state. At 20,000 active agents that was
        20,000 locking transactions every 30 s; the dry run costs one read per 100 agents
        and ~0.1 ms of Python each, and only the agents it names get the real, locked tick.
        """
        now_us = to_us(now)
        acting = []
        store = self.core.store
        with store.read() as conn:
            found = hot.read_agents_with_counters(conn, store.is_postgres, agent_ids, window_keys_us(now_us))
            for agent_id, (state, row, counters) in found.items():
                text = state["signal_state"]
                if not text:
                    continue
                try:
                    ctx = TxContext(conn=conn, store=store, agent=Agent.from_row(row), state=state, now=now)
                    spent = spend_from_counters(counters, None)
                    parsed = AgentSignalState.from_json(orjson.loads(text))  # the dry run may mutate it
                    out = tick(parsed, now, agent_context(ctx, now_us, None, spent), self.cfg)
                except Exception:
                    log.exception("signals dry run failed for agent %s; ticking it for real", agent_id)
                    acting.append(agent_id)
                    continue
                if out.fired or out.cleared:
                    acting.append(agent_id)
        return acting

    def tick_agent(self, agent_id: str, now: datetime) -> None:
        with agent_unit(self.core, agent_id) as ctx:
            if not ctx.state.get("signal_state"):
                return
            state = load_state(ctx)
            apply_outcome(ctx, tick(state, now, agent_context(ctx, to_us(now), None), self.cfg))
            save_state(ctx, state)


def install(runtime: Runtime) -> None:
    observer = SignalsObserver(runtime.ledger.core, runtime.settings)
    observer.stopping = runtime.stopping
    runtime.ledger.core.observers.append(observer)
    runtime.periodic.append(("signals.tick", observer.tick_due))
