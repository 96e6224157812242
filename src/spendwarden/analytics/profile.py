"""``/v1/analytics/agents/{id}``: one agent's behaviour, from its rollups and counters.

* velocity: spend in the last 15 minutes x 4 ($/h); baseline: an EWMA over the agent's
  *active* hours of the past 7 days, excluding the current hour (weight ``max(0.2, 1/n)``,
  so the first hours form a plain mean) — the same idea as the velocity detector's.
* retry cost ratio, failure rate, tool and rail mix: over the last 24 hours.
* cost per task: average over tasks completed in the last 7 days (the signals part's task
  table), or — when no task completed — over the tasks that spent in those 7 days
  (``rollups_tasks``); and its change against the 7 days before.
* burn rate: month-to-date spend per elapsed day; days until the monthly cap is empty.
* anomaly score (DESIGN.md §3): 0.4·min(velocity_ratio/5, 1) + 0.3·rail_shift +
  0.3·min(burn_acceleration, 1), where rail_shift is 1 when a rail holds > 80 % of the
  last hour's spend against a baseline share < 30 %, else the total variation distance
  between the two mixes; burn_acceleration is how far the last 24 hours exceed the
  average active day of the previous 30 days (0 when they do not).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from spendwarden.analytics import reader, windows
from spendwarden.analytics.reader import Scope
from spendwarden.analytics.rollup import DAY_US, HOUR_US, MINUTE_US
from spendwarden.analytics.summary import share, snapshot
from spendwarden.clock import iso, to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_analytics as qa
from spendwarden.db.store import Store
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.types import Agent
from spendwarden.ledger.views import spend_now
from spendwarden.money import format_amount

EWMA_ALPHA = 0.2


def agent_profile(store: Store, agent_id: str, now: datetime) -> dict[str, Any]:
    now_us = to_us(now)
    end = windows.minute_end(now_us)
    with snapshot(store) as conn:
        row, state = q.get_agent(conn, agent_id), q.get_state(conn, agent_id)
        if row is None or state is None:
            raise AgentNotFound(agent_id=agent_id)
        agent = Agent.from_row(row)
        caps = spend_now(conn, agent, now_us, int(state["held"]))
        velocity = _total(conn, agent_id, windows.Window(end - 15 * MINUTE_US, end)) * 4
        baseline, base_rails = _baseline(conn, agent_id, now_us)
        day = _window_dims(conn, agent_id, windows.Window(end - DAY_US, end), ["total", "tool", "rail"])
        hour_rails = _window_dims(conn, agent_id, windows.Window(end - HOUR_US, end), ["rail"])["rail"]
        mtd = _total(conn, agent_id, windows.resolve(now, "mtd", None, None))
        prior = _prior_daily(conn, agent_id, end - DAY_US)
        tasks = _cost_per_task(conn, agent_id, now_us)
    totals = day["total"].get("", [0] * 6)
    ratio = velocity / baseline if baseline > 0 else None
    rail_shift = _rail_shift({k: v[0] for k, v in hour_rails.items()}, base_rails)
    accel = max(totals[0] / prior - 1.0, 0.0) if prior > 0 else 0.0
    return {
        "agent_id": agent_id,
        "at": iso(now_us),
        "velocity": {
            "usd_per_hour": format_amount(velocity),
            "baseline_usd_per_hour": format_amount(round(baseline)),
            "ratio": None if ratio is None else round(ratio, 4),
        },
        "caps": caps,
        "cost_per_task": tasks,
        "retry_cost_ratio": share(totals[3], totals[0]),
        "failure_rate": share(totals[2], totals[1]),
        "calls_24h": totals[1],
        "spend_24h_usd": format_amount(totals[0]),
        "tool_mix": _mix(day["tool"], totals[0]),
        "rail_mix": _mix(day["rail"], totals[0]),
        "burn": _burn(agent, mtd, now, int(state["held"])),
        "anomaly": {
            "score": round(0.4 * min((ratio or 0.0) / 5, 1.0) + 0.3 * rail_shift + 0.3 * min(accel, 1.0), 4),
            "velocity_ratio": None if ratio is None else round(ratio, 4),
            "rail_shift": round(rail_shift, 4),
            "burn_acceleration": round(accel, 4),
        },
    }


def _window_dims(
    conn: Connection, agent_id: str, window: windows.Window, dims: list[str]
) -> reader.Breakdown:
    return reader.breakdown(conn, Scope(agent_id=agent_id), window, windows.segments(window), dims)


def _total(conn: Connection, agent_id: str, window: windows.Window) -> int:
    return _window_dims(conn, agent_id, window, ["total"])["total"].get("", [0])[0]


def _baseline(conn: Connection, agent_id: str, now_us: int) -> tuple[float, dict[str, float]]:
    """EWMA of $/h over active hours of the past 7 days (current hour excluded), and the
    rail shares over the same hours."""
    hour = now_us - now_us % HOUR_US
    segs = [("h", hour - 7 * DAY_US, hour)]
    rows = qa.cube_grouped(conn, segs, agent_id=agent_id, owner=None, group=["rail"], with_bucket=True)
    per_hour: dict[int, int] = {}
    rails: dict[str, int] = {}
    for r in rows:
        per_hour[int(r["bucket_start_us"])] = per_hour.get(int(r["bucket_start_us"]), 0) + int(r["amount"])
        rails[r["rail"]] = rails.get(r["rail"], 0) + int(r["amount"])
    ewma, n = 0.0, 0
    for _t, amount in sorted(per_hour.items()):
        if amount <= 0:
            continue
        n += 1
        ewma += max(EWMA_ALPHA, 1.0 / n) * (amount - ewma)
    whole = sum(v for v in rails.values() if v > 0)
    return ewma, {k: v / whole for k, v in rails.items() if whole and v > 0}


def _rail_shift(recent: dict[str, int], baseline: dict[str, float]) -> float:
    whole = sum(v for v in recent.values() if v > 0)
    if whole <= 0 or not baseline:
        return 0.0
    now = {k: v / whole for k, v in recent.items() if v > 0}
    if any(s > 0.8 and baseline.get(k, 0.0) < 0.3 for k, s in now.items()):
        return 1.0
    keys = set(now) | set(baseline)
    return 0.5 * sum(abs(now.get(k, 0.0) - baseline.get(k, 0.0)) for k in keys)


def _prior_daily(conn: Connection, agent_id: str, before_us: int) -> float:
    """Average spend of active days in the 30 whole days before ``before_us``."""
    day = before_us - before_us % DAY_US
    rows = qa.cube_grouped(
        conn, [("d", day - 30 * DAY_US, day)], agent_id=agent_id, owner=None, group=[], with_bucket=True
    )
    active = [int(r["amount"]) for r in rows if int(r["amount"] or 0) > 0]
    return sum(active) / len(active) if active else 0.0


def _cost_per_task(conn: Connection, agent_id: str, now_us: int) -> dict[str, Any]:
    def week(end_us: int) -> tuple[int, int, str]:
        done = qa.completed_tasks(conn, agent_id, end_us - 7 * DAY_US, end_us)
        if done:
            spend = qa.task_totals(conn, agent_id, done)
            return sum(spend.values()), len(done), "completed_tasks"
        day_end = end_us - end_us % DAY_US + DAY_US
        spend = qa.task_spend(conn, agent_id, day_end - 7 * DAY_US, day_end)
        return sum(spend.values()), len(spend), "task_spend"

    cur_amount, cur_n, source = week(now_us)
    prev_amount, prev_n, _ = week(now_us - 7 * DAY_US)
    cur = cur_amount / cur_n if cur_n else None
    prev = prev_amount / prev_n if prev_n else None
    return {
        "average_usd_7d": None if cur is None else format_amount(round(cur)),
        "tasks_7d": cur_n,
        "average_usd_prior_7d": None if prev is None else format_amount(round(prev)),
        "tasks_prior_7d": prev_n,
        "week_over_week": None if cur is None or not prev else round(cur / prev - 1.0, 4),
        "source": source,
    }


def _mix(values: dict[str, list[int]], total: int) -> list[dict[str, Any]]:
    ordered = sorted(values.items(), key=lambda i: (-i[1][0], i[0]))
    return [
        {"key": k, "amount_usd": format_amount(v[0]), "share": share(v[0], total)} for k, v in ordered if v[1]
    ]


def _burn(agent: Agent, mtd: int, now: datetime, held: int) -> dict[str, Any]:
    start = windows.month_start(now)
    elapsed_days = max((now - start).total_seconds() / 86_400, 1 / 24)
    per_day = mtd / elapsed_days
    cap = agent.caps.get("monthly")
    days_left_in_month = (windows.next_month(start) - now).total_seconds() / 86_400
    until_empty = None
    if cap is not None and per_day > 0:
        until_empty = round(max(cap - mtd - held, 0) / per_day, 2)
    return {
        "month_to_date_usd": format_amount(mtd),
        "usd_per_day": format_amount(round(per_day)),
        "monthly_cap_usd": None if cap is None else format_amount(cap),
        "days_until_empty": until_empty,
        "days_left_in_month": round(days_left_in_month, 2),
        "runs_out_before_month_end": until_empty is not None and until_empty < days_left_in_month,
    }
