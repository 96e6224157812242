"""Task rules: ``cost_per_task_drift``, ``silence`` and ``task_scope``, and the open-task book.

Tasks open on ``task.started`` (or implicitly, on the first transaction naming an unknown
``task_id``; implicit tasks feed cost and scope but never go ``silent``, since the agent
never promised to report on them). At most ``MAX_TASKS`` stay open; the oldest
implicit one (else the oldest) makes room.
Tasks nobody touches for 6 h (implicit) or 7 days (reported) are forgotten.
A task's scope is ``{"max_tool_calls": n, "tools": [...]}`` from its ``started`` event,
else the agent's ``task_scope``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.facts import TxnFact
from spendwarden.signals.state import COST_DAYS, MAX_NAME, MAX_TASKS, AgentSignalState, TaskState

DAY = 86_400


def task_key(task_id: str) -> str:
    return task_id[:MAX_NAME]


def open_task(
    state: AgentSignalState, key: str, ts: int, scope: Mapping[str, Any] | None, explicit: bool
) -> list[str]:
    """Open (or re-open) a task; return the keys of tasks evicted to make room."""
    evicted: list[str] = []
    if key not in state.tasks:
        while len(state.tasks) >= MAX_TASKS:
            oldest = next((k for k, t in state.tasks.items() if not t.explicit), next(iter(state.tasks)))
            del state.tasks[oldest]
            evicted.append(oldest)
    max_calls, tools = _scope(scope)
    old = state.tasks.get(key)
    task = TaskState(ts, ts, max_tool_calls=max_calls, tools=tools, explicit=explicit)
    if old is not None:
        task.cost, task.tool_calls, task.last_charge = old.cost, old.tool_calls, old.last_charge
    state.tasks[key] = task
    return evicted


IMPLICIT_TASK_TTL = 6 * 3600
EXPLICIT_TASK_TTL = 7 * DAY


def prune(state: AgentSignalState, now: int) -> list[str]:
    """Forget tasks nobody touched for long (implicit: 6 h, reported: 7 days); return their keys."""
    stale = [
        k
        for k, t in state.tasks.items()
        if now - _touched(t) > (EXPLICIT_TASK_TTL if t.explicit else IMPLICIT_TASK_TTL)
    ]
    for k in stale:
        del state.tasks[k]
    return stale


def _touched(t: TaskState) -> int:
    return max(t.progress, t.last_charge)


def _scope(scope: Mapping[str, Any] | None) -> tuple[int | None, tuple[str, ...] | None]:
    if not scope:
        return None, None
    raw_max = scope.get("max_tool_calls")
    raw_tools = scope.get("tools")
    tools = tuple(str(t)[:MAX_NAME] for t in raw_tools)[:64] if raw_tools is not None else None
    return (int(raw_max) if raw_max is not None else None), tools


def charge(task: TaskState, fact: TxnFact, ts: int, tool_call: bool) -> None:
    task.cost += fact.amount
    if tool_call:
        task.tool_calls += 1
    if fact.amount > 0 and ts > task.last_charge:
        task.last_charge = ts


def complete(state: AgentSignalState, key: str, ts: int) -> None:
    """Book a completed task's cost on its completion day (drift history) and close it."""
    task = state.tasks.pop(key, None)
    day = ts // DAY
    if task is None or state.k_head < 0 or state.k_head - day >= COST_DAYS or day > state.k_head:
        return
    state.k_cost[day % COST_DAYS] += task.cost
    state.k_count[day % COST_DAYS] += 1


def check_scope(task: TaskState, key: str, fact: TxnFact) -> Hit | None:
    over = task.max_tool_calls is not None and task.tool_calls > task.max_tool_calls
    outside = task.tools is not None and fact.tool is not None and fact.tool[:MAX_NAME] not in task.tools
    if not over and not outside:
        return None
    figures = {
        "task_id": key,
        "tool_calls": task.tool_calls,
        "max_tool_calls": task.max_tool_calls,
        "tool": fact.tool,
        "tool_in_scope": not outside,
        "task_cost_usd": usd(task.cost),
    }
    why = (
        f"{task.tool_calls} tool calls (scope {task.max_tool_calls})"
        if over
        else f"tool {fact.tool} not in scope"
    )
    return Hit(
        "task_scope",
        "warning",
        "Task exceeded its scope",
        f"Task {key}: {why}.",
        figures,
        cond=f"task_scope:{key}",
        period="task",
    )


def check_silence(task: TaskState, key: str, now: int, minutes: int) -> Hit | None:
    limit = minutes * 60
    idle = now - task.progress
    if not task.explicit or idle < limit:
        return None
    charging = task.last_charge > task.progress and now - task.last_charge < limit
    figures = {
        "task_id": key,
        "minutes_since_progress": ratio(idle / 60),
        "silence_minutes": minutes,
        "charges_since_progress": charging,
        "task_cost_usd": usd(task.cost),
    }
    severity = "critical" if charging else "warning"
    tail = " while charges still accrue" if charging else ""
    return Hit(
        "silence",
        severity,
        "Task gone silent",
        f"Task {key} has shown no progress for {idle // 60} min{tail}.",
        figures,
        cond=f"silence:{key}",
        period="task",
    )


def cost_windows(state: AgentSignalState, cfg: SignalConfig) -> tuple[int, int, int, int]:
    """(cost, count) of completed tasks in the last ``drift_window_days`` and the window before."""
    head, w = state.k_head, min(cfg.drift_window_days, COST_DAYS // 2)
    recent = [(head - i) % COST_DAYS for i in range(w)]
    prior = [(head - w - i) % COST_DAYS for i in range(w)]
    return (
        sum(state.k_cost[i] for i in recent),
        sum(state.k_count[i] for i in recent),
        sum(state.k_cost[i] for i in prior),
        sum(state.k_count[i] for i in prior),
    )


def check_drift(state: AgentSignalState, cfg: SignalConfig) -> Hit | None:
    if state.k_head < 0:
        return None
    rc, rn, pc, pn = cost_windows(state, cfg)
    if rn < cfg.drift_min_tasks or pn < cfg.drift_min_tasks or pc <= 0:
        return None
    recent, prior = rc / rn, pc / pn
    if recent <= cfg.drift_ratio * prior:
        return None
    figures = {
        "cost_per_task_usd": usd(recent),
        "prior_cost_per_task_usd": usd(prior),
        "ratio": ratio(recent / prior),
        "threshold": cfg.drift_ratio,
        "tasks": rn,
        "prior_tasks": pn,
    }
    return Hit(
        "cost_per_task_drift",
        "warning",
        "Cost per task is drifting up",
        f"Average cost per completed task {usd(recent)} vs {usd(prior)} the {cfg.drift_window_days} days "
        "before.",
        figures,
    )
