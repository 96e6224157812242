"""The entry points: feed a transaction, a task event or a clock tick; get alerts back.

Pure over plain data: no database, no clock of its own. For speed on the write path the
engine **mutates the state it is given and returns that same object** in the outcome (no
copy of the state per event); call ``state.copy()`` first to keep the old one. Time is event
time (``occurred_at``) for observations and the caller's ``now`` for ``tick``, which the
integrator runs periodically (e.g. every minute) for the rules that fire on absence or on
the calendar: ``silence``, ``budget_burn``, ``forecast_overrun``, ``cost_per_task_drift``,
and to resolve conditions whose window has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from spendwarden.signals import anomaly, budget, novelty, quality, rails, tasks, velocity
from spendwarden.signals.alerts import canonical_cycle, payment_loop_alert
from spendwarden.signals.conditions import SignalOutcome, clear, fire_once, settle
from spendwarden.signals.config import DEFAULT_CONFIG, SignalConfig, effective
from spendwarden.signals.facts import SPENDING_STATUSES, AgentContext, TaskEventFact, TxnFact, to_ts
from spendwarden.signals.loops import check_runaway, runaway_quiet
from spendwarden.signals.record import advance_to, is_tool_call, record_txn
from spendwarden.signals.state import (
    FP_SLOTS,
    MIN_SLOTS,
    RAIL_SLOTS,
    RAIL_STEP,
    AgentSignalState,
)

# The flow rules (velocity, runaway loops, rail shift, anomaly, retries, failures) read only
# the minute, five-minute rail and fingerprint rings: this long after an agent's last event
# those are empty, and nothing but the hour- and day-scale rules can change on a tick.
FLOW_HORIZON = max(MIN_SLOTS * 60, RAIL_SLOTS * RAIL_STEP, FP_SLOTS * 60) + 60
WATCH_ALWAYS = 2**40  # epoch seconds far beyond any clock: an open condition or task
SLOW_RULES = frozenset(
    {"budget_burn", "forecast_overrun", "cost_per_task_drift", "cap_utilization", "budget_threshold"}
)


def observe_transaction(
    state: AgentSignalState, fact: TxnFact, ctx: AgentContext, cfg: SignalConfig = DEFAULT_CONFIG
) -> SignalOutcome:
    """Count a recorded transaction and evaluate the rules it can trip (voided and refunded
    rows are not spend and change nothing)."""
    out = SignalOutcome(state)
    if fact.status not in SPENDING_STATUSES:
        return out
    cfg = effective(cfg, dict(ctx.overrides)) if ctx.overrides else cfg
    ts, when, agent = to_ts(fact.occurred_at), fact.occurred_at, ctx.agent_id
    _advance(out, ts, cfg, agent, when)
    for hit in novelty.check_new(state, fact, ts, cfg):
        fire_once(out, hit, agent, when)
    fp = record_txn(state, fact, ts)
    if fact.task_id is not None:
        _charge_task(out, fact, ts, ctx, cfg)
    _evaluate_flow(out, ctx, cfg, fact, fp, when)
    if ctx.active_hours is not None and fact.amount > 0:
        settle(out, "off_hours", novelty.check_off_hours(ctx.active_hours, fact), agent, when)
    if ctx.caps:
        _evaluate_caps(out, ctx, cfg, when, fact.task_id)
    return out


def observe_task_event(
    state: AgentSignalState, fact: TaskEventFact, ctx: AgentContext, cfg: SignalConfig = DEFAULT_CONFIG
) -> SignalOutcome:
    """Open, progress, complete or fail a task; completion feeds ``cost_per_task_drift``."""
    out = SignalOutcome(state)
    cfg = effective(cfg, dict(ctx.overrides)) if ctx.overrides else cfg
    ts, when, agent = to_ts(fact.occurred_at), fact.occurred_at, ctx.agent_id
    _advance(out, ts, cfg, agent, when)
    key = tasks.task_key(fact.task_id)
    task = state.tasks.get(key)
    if fact.type == "started" or (fact.type == "progress" and task is None):
        _forget(out, tasks.open_task(state, key, ts, fact.scope or ctx.task_scope, True), agent, when)
    elif fact.type == "progress" and task is not None:
        task.progress, task.explicit = max(task.progress, ts), True
    else:
        if fact.type == "completed":
            tasks.complete(state, key, ts)
            settle(out, "cost_per_task_drift", tasks.check_drift(state, cfg), agent, when)
        state.tasks.pop(key, None)
        clear(out, f"task_scope:{key}", agent, when)
    clear(out, f"silence:{key}", agent, when)
    return out


def tick(
    state: AgentSignalState, now: datetime, ctx: AgentContext, cfg: SignalConfig = DEFAULT_CONFIG
) -> SignalOutcome:
    """Advance to ``now`` and evaluate absence and calendar rules; resolve expired conditions."""
    out = SignalOutcome(state)
    cfg = effective(cfg, dict(ctx.overrides)) if ctx.overrides else cfg
    ts, agent = to_ts(now), ctx.agent_id
    _advance(out, ts, cfg, agent, now)
    _evaluate_flow(out, ctx, cfg, None, None, now)
    if "off_hours" in state.active and novelty.off_hours_over(state, ctx.active_hours, now, cfg):
        clear(out, "off_hours", agent, now)
    _evaluate_caps(out, ctx, cfg, now, None)
    burn = budget.burn(state, ctx, ts)
    settle(out, "budget_burn", budget.check_burn(state, burn, ts, cfg), agent, now)
    settle(
        out,
        "forecast_overrun",
        budget.check_forecast(state, budget.forecast(state, ctx, ts, cfg), ctx),
        agent,
        now,
    )
    settle(out, "cost_per_task_drift", tasks.check_drift(state, cfg), agent, now)
    minutes = ctx.silence_minutes or cfg.silence_minutes
    for key, task in list(state.tasks.items()):
        hit = tasks.check_silence(task, key, ts, minutes)
        if hit is not None or f"silence:{key}" in state.active:
            settle(out, f"silence:{key}", hit, agent, now)
    _expire_payment_loops(out, ts, cfg, agent, now)
    return out


def watch_until(state: AgentSignalState) -> int:
    """Until when (epoch seconds) a ``tick`` may open or clear a condition on the minute
    scale, so an integrator should tick the agent every round; after it, only
    ``SLOW_RULES`` can fire on a tick (on hour or day boundaries, as burn-rate history
    matures, as holds change cap figures) and nothing is left to clear, so idle agents can
    be ticked far less often. Why: at 100,000 agents active in a day, ticking every one
    every 30 s was most of a core."""
    if state.active or state.tasks:
        return WATCH_ALWAYS
    return state.last_ts + FLOW_HORIZON


def observe_payment_cycle(
    state: AgentSignalState,
    cycle: list[str] | None,
    ctx: AgentContext,
    now: datetime,
    cfg: SignalConfig = DEFAULT_CONFIG,
) -> SignalOutcome:
    """Record the result of ``loops.find_payment_cycle`` for this agent: a new cycle fires
    ``payment_loop`` once; it resolves on a tick ``payment_loop_window_hours`` after last seen."""
    out = SignalOutcome(state)
    if not cycle:
        return out
    cfg = effective(cfg, dict(ctx.overrides)) if ctx.overrides else cfg
    slot = f"payment_loop:{canonical_cycle(cycle)}"
    act = state.active.get(slot)
    if act is not None:
        act[3] = str(max(int(act[3]), to_ts(now)))
        return out
    alert = payment_loop_alert(ctx.agent_id, cycle, now, cfg.payment_loop_window_hours)
    state.active[slot] = [alert.dedupe_key, to_ts(now), alert.severity, str(to_ts(now))]
    out.fired.append(alert)
    return out


def _evaluate_flow(
    out: SignalOutcome,
    ctx: AgentContext,
    cfg: SignalConfig,
    fact: TxnFact | None,
    fp: str | None,
    when: datetime,
) -> None:
    # Every rule is evaluated after every event; a rule whose condition is closed is skipped
    # only when a cheap bound proves its check would return None (settle would do nothing).
    state, agent, active = out.state, ctx.agent_id, out.state.active
    v = velocity.measure(state, ctx.tier, cfg)
    settle(out, "velocity_spike", velocity.check(v, cfg), agent, when)
    loop = active.get("runaway_loop")
    if loop is not None or not runaway_quiet(state, fp, cfg):
        settle(
            out,
            "runaway_loop",
            check_runaway(state, fact, fp, loop[3] if loop else None, loop is not None, ctx.tier, cfg),
            agent,
            when,
        )
    mix = rails.measure(state, cfg)
    settle(out, "rail_shift", rails.check(mix, cfg), agent, when)
    if "anomaly_score" in active or anomaly.could_fire(v, mix, cfg):
        settle(out, "anomaly_score", anomaly.check(anomaly.measure(state, v, mix, cfg), cfg), agent, when)
    if "retry_cost" in active or "failure_rate" in active or not quality.too_few_calls(state, cfg):
        q = quality.measure(state, cfg)
        settle(out, "retry_cost", quality.check_retry(q, cfg), agent, when)
        settle(out, "failure_rate", quality.check_failures(q, cfg), agent, when)
    conc = state.active.get("tool_concentration")
    tool = conc[3] if conc is not None else (fact.tool if fact is not None else None)
    if tool is not None:
        settle(out, "tool_concentration", novelty.check_tool_share(state, tool, cfg), agent, when)


def _evaluate_caps(
    out: SignalOutcome, ctx: AgentContext, cfg: SignalConfig, when: datetime, task_id: str | None
) -> None:
    state, agent = out.state, ctx.agent_id
    for slot, hit in budget.check_caps(ctx, cfg, when, task_id):
        settle(out, slot, hit, agent, when)
    per_task = state.active.get("cap_utilization:per_task")
    if per_task is not None and task_id is None and per_task[0].rsplit(":", 1)[-1] not in state.tasks:
        clear(out, "cap_utilization:per_task", agent, when)
    hit = budget.check_threshold(state, ctx, cfg)
    if hit is not None:
        fire_once(out, hit, agent, when)


def _charge_task(out: SignalOutcome, fact: TxnFact, ts: int, ctx: AgentContext, cfg: SignalConfig) -> None:
    state, agent, when = out.state, ctx.agent_id, fact.occurred_at
    key = tasks.task_key(fact.task_id or "")
    task = state.tasks.get(key)
    if task is None:
        _forget(out, tasks.open_task(state, key, ts, ctx.task_scope, False), agent, when)
        task = state.tasks[key]
    tasks.charge(task, fact, ts, is_tool_call(fact))
    scope = tasks.check_scope(task, key, fact)
    if scope is not None:
        settle(out, f"task_scope:{key}", scope, agent, when)
    if f"silence:{key}" in state.active:
        minutes = ctx.silence_minutes or cfg.silence_minutes
        settle(out, f"silence:{key}", tasks.check_silence(task, key, ts, minutes), agent, when)


def _advance(out: SignalOutcome, ts: int, cfg: SignalConfig, agent: str, when: datetime) -> None:
    hour = out.state.c_hour
    advance_to(out.state, ts, cfg)
    if out.state.c_hour != hour and out.state.tasks:
        _forget(out, tasks.prune(out.state, ts), agent, when)


def _forget(out: SignalOutcome, evicted: list[str], agent: str, when: datetime) -> None:
    for key in evicted:
        clear(out, f"silence:{key}", agent, when)
        clear(out, f"task_scope:{key}", agent, when)


def _expire_payment_loops(out: SignalOutcome, ts: int, cfg: SignalConfig, agent: str, now: datetime) -> None:
    window = int(timedelta(hours=cfg.payment_loop_window_hours).total_seconds())
    for slot in [s for s in out.state.active if s.startswith("payment_loop:")]:
        if int(out.state.active[slot][3]) + window < ts:
            clear(out, slot, agent, now)
