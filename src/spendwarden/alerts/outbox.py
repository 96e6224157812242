"""The delivery outbox: which channels hear about an alert, written in the alert's transaction.

Channels are few and change rarely, so each process caches the enabled ones for a couple
of seconds (and drops the cache when it changes them itself); the write path then costs
one small INSERT per notified channel and no extra read.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from sqlalchemy import Connection, Engine

from spendwarden.clock import iso
from spendwarden.db import queries_signals as qs
from spendwarden.ids import new_id

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
CACHE_SECONDS = 2.0

_cache: weakref.WeakKeyDictionary[Engine, tuple[float, list[dict[str, Any]]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def enabled_channels(conn: Connection) -> list[dict[str, Any]]:
    """Enabled channels, cached per engine for ``CACHE_SECONDS``."""
    engine = conn.engine
    now = time.monotonic()
    with _lock:
        hit = _cache.get(engine)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = qs.list_channels(conn, enabled_only=True)
    with _lock:
        _cache[engine] = (now, found)
    return found


def invalidate() -> None:
    """Forget cached channels (after this process created, changed or deleted one)."""
    with _lock:
        _cache.clear()


def wants(channel: dict[str, Any], severity: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(channel["min_severity"], 0)


def enqueue(
    conn: Connection, alert: dict[str, Any], event: str, at: int, *, skip_triggered: bool = False
) -> int:
    """Queue ``trigger`` for every channel that wants this severity (``skip_triggered``: not
    those already told, on an escalation), or ``resolve`` for every channel that was told the
    alert opened. Returns the number of deliveries queued."""
    if event == "trigger":
        targets = [c["id"] for c in enabled_channels(conn) if wants(c, alert["severity"])]
        if skip_triggered and targets:
            told = set(qs.triggered_channels(conn, alert["id"]))
            targets = [t for t in targets if t not in told]
    else:
        targets = qs.triggered_channels(conn, alert["id"])
    rows = [
        {
            "id": new_id("dlv_"),
            "alert_id": alert["id"],
            "channel_id": channel_id,
            "event": event,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": 0,  # due at once, whatever time the alert carries
            "created_at": at,
            "updated_at": at,
        }
        for channel_id in targets
    ]
    qs.insert_deliveries(conn, rows)
    return len(rows)


def delivery_public(row: dict[str, Any]) -> dict[str, Any]:
    """One line of a channel's delivery log."""
    waiting = row["status"] in ("pending", "sending")
    return {
        "id": row["id"],
        "alert_id": row["alert_id"],
        "channel_id": row["channel_id"],
        "event": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso(max(row["next_attempt_at"], row["created_at"])) if waiting else None,
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "created_at": iso(row["created_at"]),
        "delivered_at": iso(row["delivered_at"]),
    }
