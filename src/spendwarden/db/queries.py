"""Named queries for the core tables. Routes and domain code never build SQL themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select, update

from spendwarden.db.tables.core import (
    admin_tokens,
    agent_keys,
    agent_state,
    agents,
    alerts,
    audit_log,
    chain_checkpoints,
    chain_heads,
    holds,
    idempotency_keys,
    spend_counters,
    transactions,
)

Row = dict[str, Any]


def _one(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


# --- agents -----------------------------------------------------------------------------


def insert_agent(conn: Connection, row: Row) -> None:
    conn.execute(agents.insert().values(**row))


def get_agent(conn: Connection, agent_id: str) -> Row | None:
    return _one(conn, select(agents).where(agents.c.id == agent_id))


def update_agent(conn: Connection, agent_id: str, values: Row) -> None:
    conn.execute(update(agents).where(agents.c.id == agent_id).values(**values))


def list_agents(
    conn: Connection, *, owner: str | None, status: str | None, after: str | None, limit: int
) -> list[Row]:
    stmt = select(agents).order_by(agents.c.id).limit(limit)
    if owner is not None:
        stmt = stmt.where(agents.c.owner == owner)
    if status is not None:
        stmt = stmt.where(agents.c.status == status)
    if after is not None:
        stmt = stmt.where(agents.c.id > after)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def agent_ids(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(select(agents.c.id).order_by(agents.c.id))]


# --- per-agent state --------------------------------------------------------------------


def insert_state(conn: Connection, row: Row) -> None:
    conn.execute(agent_state.insert().values(**row))


def get_state(conn: Connection, agent_id: str) -> Row | None:
    return _one(conn, select(agent_state).where(agent_state.c.agent_id == agent_id))


def update_state(conn: Connection, agent_id: str, values: Row) -> None:
    conn.execute(update(agent_state).where(agent_state.c.agent_id == agent_id).values(**values))


# --- keys and admin tokens --------------------------------------------------------------


def insert_key(conn: Connection, row: Row) -> None:
    conn.execute(agent_keys.insert().values(**row))


def list_keys(conn: Connection, agent_id: str) -> list[Row]:
    stmt = select(agent_keys).where(agent_keys.c.agent_id == agent_id).order_by(agent_keys.c.created_at)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def get_key(conn: Connection, key_id: str) -> Row | None:
    return _one(conn, select(agent_keys).where(agent_keys.c.id == key_id))


def revoke_keys(conn: Connection, agent_id: str, at: int, key_id: str | None = None) -> int:
    stmt = update(agent_keys).where(agent_keys.c.agent_id == agent_id, agent_keys.c.revoked_at.is_(None))
    if key_id is not None:
        stmt = stmt.where(agent_keys.c.id == key_id)
    return conn.execute(stmt.values(revoked_at=at)).rowcount


def insert_admin_token(conn: Connection, row: Row) -> None:
    conn.execute(admin_tokens.insert().values(**row))


def find_admin_token(conn: Connection, token_hash: str) -> Row | None:
    return _one(conn, select(admin_tokens).where(admin_tokens.c.token_hash == token_hash))


def count_admin_tokens(conn: Connection) -> int:
    stmt = select(func.count()).select_from(admin_tokens).where(admin_tokens.c.revoked_at.is_(None))
    return int(conn.execute(stmt).scalar_one())


def revoke_admin_tokens(conn: Connection, at: int, role: str = "admin") -> int:
    stmt = update(admin_tokens).where(admin_tokens.c.role == role, admin_tokens.c.revoked_at.is_(None))
    return conn.execute(stmt.values(revoked_at=at)).rowcount


# --- counters ---------------------------------------------------------------------------


def counters_in_scope(conn: Connection, agent_id: str, scope: str, periods: list[str]) -> dict[str, int]:
    stmt = select(spend_counters.c.period, spend_counters.c.amount).where(
        spend_counters.c.agent_id == agent_id,
        spend_counters.c.scope == scope,
        spend_counters.c.period.in_(periods),
    )
    return {r[0]: int(r[1]) for r in conn.execute(stmt)}


# --- holds ------------------------------------------------------------------------------


def insert_hold(conn: Connection, row: Row) -> None:
    conn.execute(holds.insert().values(**row))


def get_hold(conn: Connection, hold_id: str) -> Row | None:
    return _one(conn, select(holds).where(holds.c.id == hold_id))


def close_hold(conn: Connection, hold_id: str, values: Row) -> None:
    conn.execute(update(holds).where(holds.c.id == hold_id).values(**values))


def expired_hold_agents(conn: Connection, now: int, limit: int) -> list[str]:
    stmt = (
        select(holds.c.agent_id)
        .where(holds.c.status == "open", holds.c.expires_at <= now)
        .group_by(holds.c.agent_id)
        .limit(limit)
    )
    return [r[0] for r in conn.execute(stmt)]


def expired_holds_of(conn: Connection, agent_id: str, now: int) -> list[Row]:
    stmt = select(holds).where(
        holds.c.agent_id == agent_id, holds.c.status == "open", holds.c.expires_at <= now
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def open_holds_total(conn: Connection, agent_id: str) -> int:
    stmt = select(func.coalesce(func.sum(holds.c.amount), 0)).where(
        holds.c.agent_id == agent_id, holds.c.status == "open"
    )
    return int(conn.execute(stmt).scalar_one())


# --- transactions -----------------------------------------------------------------------


def insert_transaction(conn: Connection, row: Row) -> None:
    conn.execute(transactions.insert().values(**row))


def insert_transactions(conn: Connection, rows: list[Row]) -> None:
    if rows:
        conn.execute(transactions.insert(), rows)


def get_transaction(conn: Connection, txn_id: str) -> Row | None:
    return _one(conn, select(transactions).where(transactions.c.id == txn_id))


def find_external(conn: Connection, source: str, external_id: str) -> Row | None:
    stmt = select(transactions).where(
        transactions.c.source == source, transactions.c.external_id == external_id
    )
    return _one(conn, stmt)


def existing_externals(conn: Connection, source: str, external_ids: list[str]) -> set[str]:
    if not external_ids:
        return set()
    stmt = select(transactions.c.external_id).where(
        transactions.c.source == source, transactions.c.external_id.in_(external_ids)
    )
    return {r[0] for r in conn.execute(stmt)}


TXN_FILTERS = ("agent_id", "rail", "vendor", "tool", "task_id", "model", "status", "user_id", "kind")


def list_transactions(
    conn: Connection, *, filters: Row, since: int | None, until: int | None, before: str | None, limit: int
) -> list[Row]:
    """Newest first; ``before`` is the id cursor of the last row of the previous page."""
    stmt = select(transactions).order_by(transactions.c.id.desc()).limit(limit)
    for name in TXN_FILTERS:
        if filters.get(name) is not None:
            stmt = stmt.where(transactions.c[name] == filters[name])
    if since is not None:
        stmt = stmt.where(transactions.c.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(transactions.c.occurred_at < until)
    if before is not None:
        stmt = stmt.where(transactions.c.id < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def recent_transactions(conn: Connection, agent_id: str, limit: int) -> list[Row]:
    stmt = (
        select(transactions)
        .where(transactions.c.agent_id == agent_id)
        .order_by(transactions.c.seq.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def chain_rows(conn: Connection, agent_id: str) -> Iterator[Row]:
    stmt = (
        select(transactions)
        .where(transactions.c.agent_id == agent_id)
        .order_by(transactions.c.seq, transactions.c.id)
        .execution_options(yield_per=2000)
    )
    for r in conn.execute(stmt).mappings():
        yield dict(r)


def chain_agent_ids(conn: Connection) -> list[str]:
    """Every agent that has ledger rows, a state row or a checkpoint (a deleted agent's rows still count)."""
    ids = {r[0] for r in conn.execute(select(transactions.c.agent_id).distinct())}
    ids |= {r[0] for r in conn.execute(select(agent_state.c.agent_id))}
    return sorted(ids)


def get_checkpoint(conn: Connection, agent_id: str) -> Row | None:
    return _one(conn, select(chain_checkpoints).where(chain_checkpoints.c.agent_id == agent_id))


# --- idempotency ------------------------------------------------------------------------


def get_idempotent(conn: Connection, principal: str, key: str) -> Row | None:
    stmt = select(idempotency_keys).where(
        idempotency_keys.c.principal == principal, idempotency_keys.c.key == key
    )
    return _one(conn, stmt)


def put_idempotent(conn: Connection, row: Row) -> None:
    conn.execute(idempotency_keys.insert().values(**row))


# --- audit ------------------------------------------------------------------------------


def lock_chain_head(conn: Connection, name: str, postgres: bool) -> Row | None:
    stmt = select(chain_heads).where(chain_heads.c.name == name)
    if postgres:
        stmt = stmt.with_for_update()
    return _one(conn, stmt)


def insert_chain_head(conn: Connection, row: Row) -> None:
    conn.execute(chain_heads.insert().values(**row))


def update_chain_head(conn: Connection, name: str, values: Row) -> None:
    conn.execute(update(chain_heads).where(chain_heads.c.name == name).values(**values))


def insert_audit(conn: Connection, row: Row) -> None:
    conn.execute(audit_log.insert().values(**row))


def list_audit(
    conn: Connection, *, target_id: str | None, action: str | None, before: int | None, limit: int
) -> list[Row]:
    stmt = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if target_id is not None:
        stmt = stmt.where(audit_log.c.target_id == target_id)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if before is not None:
        stmt = stmt.where(audit_log.c.seq < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def audit_rows(conn: Connection) -> Iterator[Row]:
    stmt = select(audit_log).order_by(audit_log.c.seq, audit_log.c.id).execution_options(yield_per=2000)
    for r in conn.execute(stmt).mappings():
        yield dict(r)


# --- alerts (the ledger raises cap_breach and auto_halt itself) ---------------------------


def open_alert(conn: Connection, dedupe_key: str) -> Row | None:
    stmt = select(alerts).where(alerts.c.dedupe_key == dedupe_key, alerts.c.status != "resolved")
    return _one(conn, stmt)


def insert_alert(conn: Connection, row: Row) -> None:
    conn.execute(alerts.insert().values(**row))


def update_alert(conn: Connection, alert_id: str, values: Row) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))


def get_alert(conn: Connection, alert_id: str) -> Row | None:
    return _one(conn, select(alerts).where(alerts.c.id == alert_id))


def list_alerts(conn: Connection, *, filters: Row, before: str | None, limit: int) -> list[Row]:
    stmt = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    for name in ("status", "severity", "agent_id", "rule"):
        if filters.get(name) is not None:
            stmt = stmt.where(alerts.c[name] == filters[name])
    if before is not None:
        stmt = stmt.where(alerts.c.id < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


# --- outboxes (alert deliveries, outbound webhooks) --------------------------------------


def claim_due_rows(conn: Connection, table: Any, *, now: int, lease_until: int, limit: int) -> list[Row]:
    """Take an outbox's due rows and lease them (attempts + 1, retried at the lease end if the
    sender dies); on PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps replicas' senders apart."""
    stmt = (
        select(table)
        .where(table.c.status.in_(("pending", "sending")), table.c.next_attempt_at <= now)
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if rows:
        conn.execute(
            update(table)
            .where(table.c.id.in_([r["id"] for r in rows]))
            .values(
                status="sending", attempts=table.c.attempts + 1, next_attempt_at=lease_until, updated_at=now
            )
        )
        for r in rows:
            r.update(status="sending", attempts=r["attempts"] + 1, next_attempt_at=lease_until)
    return rows
