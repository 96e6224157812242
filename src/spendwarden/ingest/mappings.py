"""Admin actions on rail-to-agent mappings: Stripe customers/cardholders and payment addresses.

A mapping may only name an existing agent (ingest never creates agents), and every change
is audited like other admin actions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spendwarden.clock import iso, to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_ingest as qi
from spendwarden.errors import AgentNotFound, NotFound
from spendwarden.ingest.common import check_slug, check_str
from spendwarden.ingest.receivers import normal_address
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import LedgerCore


def put_stripe_agent(
    core: LedgerCore, stripe_id: str, agent_id: str, label: str | None, *, actor: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "stripe_id": check_str("stripe_id", stripe_id, max_len=200),
        "agent_id": check_slug("agent_id", agent_id),
        "label": label,
        "created_at": to_us(core.clock.now()),
    }
    with core.store.write() as conn:
        _agent_exists(conn, agent_id)
        qi.put_stripe_map(conn, row)
        _audit(core, conn, "stripe_map.set", stripe_id, row, actor)
    return stripe_public(row)


def delete_stripe_agent(core: LedgerCore, stripe_id: str, *, actor: str) -> None:
    with core.store.write() as conn:
        if not qi.delete_stripe_map(conn, stripe_id):
            raise NotFound("No mapping for this Stripe id.", stripe_id=stripe_id)
        _audit(core, conn, "stripe_map.deleted", stripe_id, None, actor)


def list_stripe_agents(core: LedgerCore) -> list[dict[str, Any]]:
    with core.store.read() as conn:
        return [stripe_public(r) for r in qi.list_stripe_map(conn)]


def put_address(
    core: LedgerCore, address: str, agent_id: str, rail: str, label: str | None, *, actor: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "address": normal_address(check_str("address", address, max_len=128)),
        "agent_id": check_slug("agent_id", agent_id),
        "rail": check_slug("rail", rail),
        "label": label,
        "created_at": to_us(core.clock.now()),
    }
    with core.store.write() as conn:
        _agent_exists(conn, agent_id)
        qi.put_address(conn, row)
        _audit(core, conn, "address.set", row["address"], row, actor)
    return address_public(row)


def delete_address(core: LedgerCore, address: str, *, actor: str) -> None:
    key = normal_address(address)
    with core.store.write() as conn:
        if not qi.delete_address(conn, key):
            raise NotFound("No agent is mapped to this address.", address=address)
        _audit(core, conn, "address.deleted", key, None, actor)


def list_addresses(core: LedgerCore, agent_id: str | None) -> list[dict[str, Any]]:
    with core.store.read() as conn:
        return [address_public(r) for r in qi.list_addresses(conn, agent_id)]


def stripe_public(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "created_at": iso(row["created_at"])}


def address_public(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "created_at": iso(row["created_at"])}


def _agent_exists(conn: Connection, agent_id: str) -> None:
    if q.get_agent(conn, agent_id) is None:
        raise AgentNotFound(agent_id=agent_id)


def _audit(core: LedgerCore, conn: Connection, action: str, target: str, after: Any, actor: str) -> None:
    append_audit(
        conn,
        postgres=core.store.is_postgres,
        actor=actor,
        action=action,
        target_type="ingest_mapping",
        target_id=target,
        at=to_us(core.clock.now()),
        after=None if after is None else {k: v for k, v in after.items() if k != "created_at"},
    )
