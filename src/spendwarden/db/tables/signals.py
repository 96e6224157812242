"""Signals tables: tasks and their events, notification channels, and the delivery outbox.

``alert_deliveries`` is a durable outbox: rows are inserted in the same transaction that
opens or resolves an alert, and a notifier sends them later, so an alert is never lost
when a receiver is down or the process restarts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from spendwarden.db.tables.meta import json_text, metadata, timestamp

# One row per (agent, task): its status and timeline. Cost comes from the ``per_task``
# spend counter; tool calls are counted by an observer as transactions name the task.
tasks = Table(
    "tasks",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("task_id", String(200), primary_key=True),
    Column("status", String(12), nullable=False),
    timestamp("started_at", nullable=True),
    timestamp("last_progress_at", nullable=True),
    timestamp("completed_at", nullable=True),
    Column("tool_calls", BigInteger, nullable=False, server_default="0"),
    json_text("scope"),
    Column("note", Text),
    timestamp("created_at"),
    timestamp("updated_at"),
)
Index("ix_tasks_status_agent_id", tasks.c.status, tasks.c.agent_id)

task_events = Table(
    "task_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("task_id", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    timestamp("occurred_at"),
    timestamp("recorded_at"),
    json_text("scope"),
    Column("note", Text),
)
Index("ix_task_events_agent_id_task_id", task_events.c.agent_id, task_events.c.task_id)

channels = Table(
    "channels",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    json_text("config", nullable=False),
    Column("min_severity", String(10), nullable=False),
    Column("enabled", Boolean, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("alert_id", String(40), nullable=False),
    Column("channel_id", String(40), nullable=False),
    Column("event", String(12), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    timestamp("next_attempt_at"),
    Column("last_error", Text),
    Column("last_status_code", Integer),
    timestamp("created_at"),
    timestamp("updated_at"),
    timestamp("delivered_at", nullable=True),
)
Index(
    "ix_alert_deliveries_status_next_attempt_at",
    alert_deliveries.c.status,
    alert_deliveries.c.next_attempt_at,
)
Index("ix_alert_deliveries_channel_id_id", alert_deliveries.c.channel_id, alert_deliveries.c.id)
Index("ix_alert_deliveries_alert_id", alert_deliveries.c.alert_id)
