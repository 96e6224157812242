"""Named queries for the signals tables: tasks, task events, channels and the delivery outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from spendwarden.db.queries import claim_due_rows
from spendwarden.db.tables.core import agent_state, alerts, spend_counters, transactions
from spendwarden.db.tables.signals import alert_deliveries, channels, task_events, tasks

Row = dict[str, Any]


def _one(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


# --- tasks ------------------------------------------------------------------------------


def get_task(conn: Connection, agent_id: str, task_id: str) -> Row | None:
    return _one(conn, select(tasks).where(tasks.c.agent_id == agent_id, tasks.c.task_id == task_id))


def insert_task(conn: Connection, row: Row) -> None:
    conn.execute(tasks.insert().values(**row))


def update_task(conn: Connection, agent_id: str, task_id: str, values: Row) -> None:
    stmt = update(tasks).where(tasks.c.agent_id == agent_id, tasks.c.task_id == task_id)
    conn.execute(stmt.values(**values))


TOOL_CALL_ROWS = 1000  # rows per statement: 8 parameters each, far below SQLite's limit


def add_tool_calls(
    conn: Connection, postgres: bool, counts: dict[tuple[str, str], tuple[int, int]], at: int
) -> None:
    """Count tool calls per task ({(agent_id, task_id): (calls, first occurred_at)}); a task
    first named by a transaction starts ``running``. Multi-row upserts in key order, so
    concurrent writers lock shared rows in one order."""
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    rows = [
        {
            "agent_id": agent_id,
            "task_id": task_id,
            "status": "running",
            "started_at": first,
            "last_progress_at": first,
            "tool_calls": n,
            "created_at": at,
            "updated_at": at,
        }
        for (agent_id, task_id), (n, first) in sorted(counts.items())
    ]
    for start in range(0, len(rows), TOOL_CALL_ROWS):
        stmt = dialect_insert(tasks).values(rows[start : start + TOOL_CALL_ROWS])
        stmt = stmt.on_conflict_do_update(
            index_elements=["agent_id", "task_id"],
            set_={"tool_calls": tasks.c.tool_calls + stmt.excluded.tool_calls, "updated_at": at},
        )
        conn.execute(stmt)


def insert_task_event(conn: Connection, row: Row) -> None:
    conn.execute(task_events.insert().values(**row))


def _task_cost() -> Any:
    return (
        select(spend_counters.c.amount)
        .where(
            spend_counters.c.agent_id == tasks.c.agent_id,
            spend_counters.c.scope == "per_task",
            spend_counters.c.period == tasks.c.task_id,
        )
        .scalar_subquery()
    )


def _tasks_with_cost() -> Any:
    return select(tasks, func.coalesce(_task_cost(), 0).label("cost"))


def get_task_with_cost(conn: Connection, agent_id: str, task_id: str) -> Row | None:
    stmt = _tasks_with_cost().where(tasks.c.agent_id == agent_id, tasks.c.task_id == task_id)
    return _one(conn, stmt)


def list_tasks(
    conn: Connection,
    *,
    agent_id: str | None,
    status: str | None,
    after: tuple[int, str, str] | None,
    limit: int,
) -> list[Row]:
    """Newest first by creation; ``after`` is (created_at, agent_id, task_id) of the last row."""
    stmt = _tasks_with_cost().order_by(
        tasks.c.created_at.desc(), tasks.c.agent_id.desc(), tasks.c.task_id.desc()
    )
    if agent_id is not None:
        stmt = stmt.where(tasks.c.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(tasks.c.status == status)
    if after is not None:
        at, agent, task = after
        stmt = stmt.where(
            or_(
                tasks.c.created_at < at,
                and_(tasks.c.created_at == at, tasks.c.agent_id < agent),
                and_(tasks.c.created_at == at, tasks.c.agent_id == agent, tasks.c.task_id < task),
            )
        )
    return [dict(r) for r in conn.execute(stmt.limit(limit)).mappings()]


def agents_with_running_tasks(conn: Connection) -> list[str]:
    stmt = select(tasks.c.agent_id).where(tasks.c.status == "running").distinct()
    return sorted(r[0] for r in conn.execute(stmt))


def agents_to_watch(conn: Connection, now: int, since: int) -> list[str]:
    """Agents the signals tick evaluates every round: those whose detectors may open or
    clear a condition within minutes (``signal_watch_until`` ahead of ``now``), those with
    open holds (cap figures move without an event), and rows written before the column
    existed that changed since ``since`` (as every agent was ticked before)."""
    s = agent_state.c
    stmt = select(s.agent_id).where(
        s.signal_state.is_not(None),
        or_(
            s.signal_watch_until > now,
            s.held > 0,
            and_(s.signal_watch_until.is_(None), s.updated_at >= since),
        ),
    )
    return sorted(r[0] for r in conn.execute(stmt))


def idle_agents(conn: Connection, now: int, since: int, went_idle_after: int | None = None) -> list[str]:
    """Agents with signal state, changed since ``since``, that ``agents_to_watch`` leaves out
    (only the hour- and day-scale rules can fire for them: ``signals.engine.SLOW_RULES``);
    with ``went_idle_after``, only those that became idle after it (their watch ended, or a
    late event wrote their state, since then)."""
    s = agent_state.c
    stmt = select(s.agent_id).where(
        s.signal_state.is_not(None),
        s.updated_at >= since,
        s.signal_watch_until <= now,
        s.held <= 0,
    )
    if went_idle_after is not None:
        stmt = stmt.where(or_(s.signal_watch_until > went_idle_after, s.updated_at >= went_idle_after))
    return sorted(r[0] for r in conn.execute(stmt))


def agents_with_open_alerts(conn: Connection) -> list[str]:
    stmt = select(alerts.c.agent_id).where(alerts.c.status != "resolved", alerts.c.agent_id.is_not(None))
    return sorted({r[0] for r in conn.execute(stmt.distinct())})


def transfer_edges(conn: Connection, since: int, until: int) -> list[tuple[str, str, int]]:
    """Agent-to-agent payment edges (payer, payee, latest occurred_at) in [since, until]."""
    stmt = (
        select(
            transactions.c.agent_id,
            transactions.c.counterparty_agent_id,
            func.max(transactions.c.occurred_at),
        )
        .where(
            transactions.c.occurred_at >= since,
            transactions.c.occurred_at <= until,
            transactions.c.counterparty_agent_id.is_not(None),
            transactions.c.status == "settled",
        )
        .group_by(transactions.c.agent_id, transactions.c.counterparty_agent_id)
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(stmt)]


# --- channels ---------------------------------------------------------------------------


def insert_channel(conn: Connection, row: Row) -> None:
    conn.execute(channels.insert().values(**row))


def get_channel(conn: Connection, channel_id: str) -> Row | None:
    return _one(conn, select(channels).where(channels.c.id == channel_id))


def list_channels(conn: Connection, *, enabled_only: bool = False) -> list[Row]:
    stmt = select(channels).order_by(channels.c.id)
    if enabled_only:
        stmt = stmt.where(channels.c.enabled.is_(True))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def update_channel(conn: Connection, channel_id: str, values: Row) -> None:
    conn.execute(update(channels).where(channels.c.id == channel_id).values(**values))


def delete_channel(conn: Connection, channel_id: str) -> None:
    conn.execute(delete(channels).where(channels.c.id == channel_id))


# --- deliveries (the outbox) ------------------------------------------------------------


def insert_deliveries(conn: Connection, rows: list[Row]) -> None:
    if rows:
        conn.execute(alert_deliveries.insert(), rows)


def triggered_channels(conn: Connection, alert_id: str) -> list[str]:
    stmt = select(alert_deliveries.c.channel_id).where(
        alert_deliveries.c.alert_id == alert_id, alert_deliveries.c.event == "trigger"
    )
    return sorted({r[0] for r in conn.execute(stmt)})


def claim_due(conn: Connection, *, postgres: bool, now: int, lease_until: int, limit: int) -> list[Row]:
    """Take due alert deliveries and lease them (see ``queries.claim_due_rows``)."""
    return claim_due_rows(conn, alert_deliveries, now=now, lease_until=lease_until, limit=limit)


def next_due_at(conn: Connection) -> int | None:
    stmt = select(func.min(alert_deliveries.c.next_attempt_at)).where(
        alert_deliveries.c.status.in_(("pending", "sending"))
    )
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def update_delivery(conn: Connection, delivery_id: str, values: Row) -> None:
    conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery_id).values(**values))


def list_deliveries(
    conn: Connection,
    *,
    channel_id: str | None = None,
    alert_id: str | None = None,
    status: str | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[Row]:
    """Newest first; ``before`` is the id cursor of the previous page's last row."""
    stmt = select(alert_deliveries).order_by(alert_deliveries.c.id.desc()).limit(limit)
    if channel_id is not None:
        stmt = stmt.where(alert_deliveries.c.channel_id == channel_id)
    if alert_id is not None:
        stmt = stmt.where(alert_deliveries.c.alert_id == alert_id)
    if status is not None:
        stmt = stmt.where(alert_deliveries.c.status == status)
    if before is not None:
        stmt = stmt.where(alert_deliveries.c.id < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def cancel_channel_deliveries(conn: Connection, channel_id: str, at: int) -> None:
    stmt = update(alert_deliveries).where(
        alert_deliveries.c.channel_id == channel_id,
        alert_deliveries.c.status.in_(("pending", "sending")),
    )
    conn.execute(stmt.values(status="failed", last_error="channel deleted", updated_at=at))
