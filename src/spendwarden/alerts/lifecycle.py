"""Raising and resolving alerts with deduplication.

A persisting condition is one open alert: raising the same ``dedupe_key`` again bumps
its count and figures instead of opening another (an acknowledged alert still dedupes; a
resolved one does not). Callers hold the agent's lock, so two writers can never open the
same alert twice.

Opening and resolving also enqueue notifications into the delivery outbox in the same
transaction, so an alert that was recorded is never lost on its way to a person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spendwarden.alerts.outbox import SEVERITY_RANK, enqueue
from spendwarden.clock import iso
from spendwarden.db import queries as q
from spendwarden.ids import new_id
from spendwarden.ledger.types import dumps, loads

SEVERITIES = ("info", "warning", "critical")
ALERT_STATUSES = ("open", "acknowledged", "resolved")


def raise_alert(
    conn: Connection,
    *,
    agent_id: str | None,
    rule: str,
    severity: str,
    dedupe_key: str,
    title: str,
    message: str | None,
    figures: dict[str, Any],
    at: int,
) -> tuple[dict[str, Any], bool]:
    """Open the alert, or refresh the open one with this key. Returns (row, newly_opened)."""
    existing = q.open_alert(conn, dedupe_key)
    if existing is not None:
        values: dict[str, Any] = {
            "last_seen_at": max(at, existing["last_seen_at"]),
            "occurrences": existing["occurrences"] + 1,
            "figures": dumps(figures),
        }
        escalated = SEVERITY_RANK[severity] > SEVERITY_RANK.get(existing["severity"], 0)
        if escalated:
            values.update(severity=severity, title=title, message=message)
        q.update_alert(conn, existing["id"], values)
        existing.update(values)
        if escalated:  # page the channels that only listen at the higher severity
            enqueue(conn, existing, "trigger", at, skip_triggered=True)
        return existing, False
    row = {
        "id": new_id("alr_"),
        "agent_id": agent_id,
        "rule": rule,
        "severity": severity,
        "status": "open",
        "dedupe_key": dedupe_key,
        "title": title,
        "message": message,
        "figures": dumps(figures),
        "occurrences": 1,
        "first_seen_at": at,
        "last_seen_at": at,
    }
    q.insert_alert(conn, row)
    enqueue(conn, row, "trigger", at)
    return row, True


def resolve_by_key(conn: Connection, dedupe_key: str, at: int, by: str = "system") -> dict[str, Any] | None:
    """Resolve the open alert with this key when its condition has cleared."""
    existing = q.open_alert(conn, dedupe_key)
    if existing is None:
        return None
    return resolve_row(conn, existing, at, by)


def resolve_row(conn: Connection, row: dict[str, Any], at: int, by: str) -> dict[str, Any]:
    """Resolve this alert (idempotent) and tell the channels that were told it opened."""
    if row["status"] == "resolved":
        return row
    values = {"status": "resolved", "resolved_at": at, "resolved_by": by}
    q.update_alert(conn, row["id"], values)
    row.update(values)
    enqueue(conn, row, "resolve", at)
    return row


def acknowledge_row(conn: Connection, row: dict[str, Any], at: int, by: str) -> dict[str, Any]:
    """A person has seen it: it stays deduplicated (no new alert) until it resolves."""
    if row["status"] != "open":
        return row
    values = {"status": "acknowledged", "acknowledged_at": at, "acknowledged_by": by}
    q.update_alert(conn, row["id"], values)
    row.update(values)
    return row


def alert_public(row: dict[str, Any]) -> dict[str, Any]:
    """The API shape of an alert."""
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "rule": row["rule"],
        "severity": row["severity"],
        "status": row["status"],
        "dedupe_key": row["dedupe_key"],
        "title": row["title"],
        "message": row["message"],
        "figures": loads(row["figures"], {}),
        "occurrences": row["occurrences"],
        "first_seen_at": iso(row["first_seen_at"]),
        "last_seen_at": iso(row["last_seen_at"]),
        "acknowledged_at": iso(row.get("acknowledged_at")),
        "acknowledged_by": row.get("acknowledged_by"),
        "resolved_at": iso(row.get("resolved_at")),
        "resolved_by": row.get("resolved_by"),
    }
