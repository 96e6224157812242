"""Admin actions on outbound webhook subscriptions and their delivery log (audited)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Connection

from spendwarden.clock import iso, to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.errors import InvalidState, NotFound, ValidationFailed
from spendwarden.ids import new_id
from spendwarden.ingest.outbound import VERSION_KEY
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.types import dumps, loads

EVENT_PATTERN = re.compile(r"^(\*|(transaction|alert|agent)\.(\*|[a-z_]{1,40}))$")
DEFAULT_EVENTS = ["transaction.recorded", "alert.*", "agent.*"]


def check_events(events: list[str]) -> list[str]:
    bad = [e for e in events if not EVENT_PATTERN.match(e)]
    if bad or not events:
        raise ValidationFailed(
            "events must be names or patterns like 'transaction.recorded', 'alert.*', 'agent.*' or '*'.",
            field="events",
            invalid=bad[:10],
        )
    return sorted(set(events))


def check_url(url: str) -> str:
    if not re.match(r"^https?://[^\s]{1,1990}$", url):
        raise ValidationFailed("url must be an http(s) URL.", field="url")
    return url


def subscription_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "events": loads(row["events"], []) if isinstance(row["events"], str) else row["events"],
        "enabled": bool(row["enabled"]),
        "description": row["description"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def create(
    core: LedgerCore,
    *,
    url: str,
    events: list[str] | None,
    secret: str | None,
    enabled: bool,
    description: str | None,
    actor: str,
) -> tuple[dict[str, Any], str]:
    """Create a subscription; returns it and its signing secret (shown once when generated)."""
    now = to_us(core.clock.now())
    row: dict[str, Any] = {
        "id": new_id("whk_"),
        "url": check_url(url),
        "secret": secret or "whsec_" + secrets.token_urlsafe(32),
        "events": dumps(check_events(events or DEFAULT_EVENTS)),
        "enabled": enabled,
        "description": description,
        "created_at": now,
        "updated_at": now,
    }
    with core.store.write() as conn:
        qi.insert_subscription(conn, row)
        _changed(core, conn, "webhook.created", row["id"], None, subscription_public(row), actor)
    return subscription_public(row), row["secret"]


def update(core: LedgerCore, sub_id: str, changes: dict[str, Any], *, actor: str) -> dict[str, Any]:
    values = {k: v for k, v in changes.items() if v is not None}
    if "url" in values:
        check_url(values["url"])
    if "events" in values:
        values["events"] = dumps(check_events(values["events"]))
    with core.store.write() as conn:
        before = _get(conn, sub_id)
        values["updated_at"] = to_us(core.clock.now())
        qi.update_subscription(conn, sub_id, values)
        after = {**before, **values}
        _changed(
            core,
            conn,
            "webhook.updated",
            sub_id,
            subscription_public(before),
            subscription_public(after),
            actor,
        )
    return subscription_public(after)


def delete(core: LedgerCore, sub_id: str, *, actor: str) -> None:
    with core.store.write() as conn:
        before = _get(conn, sub_id)
        qi.delete_subscription(conn, sub_id)
        _changed(core, conn, "webhook.deleted", sub_id, subscription_public(before), None, actor)


def get(core: LedgerCore, sub_id: str) -> dict[str, Any]:
    with core.store.read() as conn:
        return subscription_public(_get(conn, sub_id))


def list_all(core: LedgerCore) -> list[dict[str, Any]]:
    with core.store.read() as conn:
        return [subscription_public(r) for r in qi.list_subscriptions(conn)]


def deliveries(
    core: LedgerCore, sub_id: str, *, status: str | None, before: str | None, limit: int
) -> list[dict[str, Any]]:
    with core.store.read() as conn:
        _get(conn, sub_id)
        rows = qi.list_webhook_deliveries(conn, sub_id, status=status, before=before, limit=limit)
    return [delivery_public(r) for r in rows]


def redeliver(core: LedgerCore, sub_id: str, delivery_id: str, *, actor: str) -> dict[str, Any]:
    """Send a delivery again now (a new attempt budget); refused while it is in flight."""
    now = to_us(core.clock.now())
    with core.store.write() as conn:
        row = qi.get_webhook_delivery(conn, delivery_id)
        if row is None or row["subscription_id"] != sub_id:
            raise NotFound("No such delivery.", delivery_id=delivery_id)
        if row["status"] == "sending" and row["next_attempt_at"] > now:
            raise InvalidState("This delivery is being sent right now.", status="sending")
        values = {"status": "pending", "attempts": 0, "next_attempt_at": 0, "updated_at": now}
        qi.update_webhook_delivery(conn, delivery_id, values)
        _changed(core, conn, "webhook.redelivered", delivery_id, None, {"subscription_id": sub_id}, actor)
    return delivery_public({**row, **values})


def delivery_public(row: dict[str, Any]) -> dict[str, Any]:
    waiting = row["status"] in ("pending", "sending")
    return {
        "id": row["id"],
        "subscription_id": row["subscription_id"],
        "event": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso(max(row["next_attempt_at"], row["created_at"])) if waiting else None,
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "payload": loads(row["payload"], {}),
        "created_at": iso(row["created_at"]),
        "delivered_at": iso(row["delivered_at"]),
    }


def _get(conn: Connection, sub_id: str) -> dict[str, Any]:
    row = qi.get_subscription(conn, sub_id)
    if row is None:
        raise NotFound("No such webhook subscription.", webhook_id=sub_id)
    return row


def _changed(
    core: LedgerCore, conn: Connection, action: str, target: str, before: Any, after: Any, actor: str
) -> None:
    qi.bump_version(conn, VERSION_KEY)
    append_audit(
        conn,
        postgres=core.store.is_postgres,
        actor=actor,
        action=action,
        target_type="webhook",
        target_id=target,
        at=to_us(core.clock.now()),
        before=before,
        after=after,
    )
