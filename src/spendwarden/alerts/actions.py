"""What a person does with an alert: acknowledge or resolve it — audited and streamed live.

An agent's alert changes under that agent's lock (``agent_unit``), the same lock its
detectors hold, so a person's resolve and a detector's re-raise never interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from spendwarden.alerts.lifecycle import acknowledge_row, alert_public, resolve_row
from spendwarden.clock import to_us
from spendwarden.db import queries as q
from spendwarden.errors import InvalidState, NotFound
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import Emitted, LedgerCore
from spendwarden.ledger.unit import agent_unit

Change = Callable[[Connection, dict[str, Any], int, str], dict[str, Any]]


def find_alert(core: LedgerCore, alert_id: str) -> dict[str, Any]:
    with core.store.read() as conn:
        row = q.get_alert(conn, alert_id)
    if row is None:
        raise NotFound("No such alert.", alert_id=alert_id)
    return row


@contextmanager
def _alert_tx(core: LedgerCore, agent_id: str | None) -> Iterator[tuple[Connection, list[Emitted], int]]:
    """The agent's unit when the alert belongs to an agent; a plain write otherwise."""
    if agent_id is not None:
        with agent_unit(core, agent_id) as ctx:
            yield ctx.conn, ctx.emitted, ctx.now_us
        return
    emitted: list[Emitted] = []
    with core.store.write() as conn:
        yield conn, emitted, to_us(core.clock.now())
        core.stage(conn, emitted)
    core.publish(emitted)


def _change(
    core: LedgerCore, alert_id: str, actor: str, reason: str | None, action: str, apply: Change
) -> dict[str, Any]:
    agent_id = find_alert(core, alert_id)["agent_id"]
    with _alert_tx(core, agent_id) as (conn, emitted, now):
        row = q.get_alert(conn, alert_id)
        assert row is not None
        before = row["status"]
        if action == "acknowledged" and before == "resolved":
            raise InvalidState("A resolved alert cannot be acknowledged.", status=before)
        row = apply(conn, row, now, actor)
        if row["status"] != before:
            append_audit(
                conn,
                postgres=core.store.is_postgres,
                actor=actor,
                action=f"alert.{action}",
                target_type="alert",
                target_id=alert_id,
                at=now,
                reason=reason,
                before={"status": before},
                after={"status": row["status"]},
            )
            emitted.append(Emitted("alert", f"alert.{action}", alert_public(row)))
    return alert_public(row)


def acknowledge(core: LedgerCore, alert_id: str, actor: str, reason: str | None = None) -> dict[str, Any]:
    """open → acknowledged (idempotent). The alert keeps deduplicating its condition."""
    return _change(core, alert_id, actor, reason, "acknowledged", acknowledge_row)


def resolve(core: LedgerCore, alert_id: str, actor: str, reason: str | None = None) -> dict[str, Any]:
    """open/acknowledged → resolved (idempotent); channels that were paged hear it resolved."""
    return _change(core, alert_id, actor, reason, "resolved", resolve_row)
