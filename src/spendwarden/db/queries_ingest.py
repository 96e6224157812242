"""Named queries for the ingest tables, and the backend-specific bulk insert of ledger rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from spendwarden.db.queries import claim_due_rows, insert_transactions
from spendwarden.db.tables.core import transactions
from spendwarden.db.tables.ingest import (
    agent_addresses,
    import_progress,
    ingest_versions,
    prices,
    stripe_agent_map,
    stripe_events,
    watch_cursors,
    webhook_deliveries,
    webhook_subscriptions,
)

Row = dict[str, Any]
TXN_COLUMNS = [c.name for c in transactions.columns]


def _one(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def _upsert(conn: Connection, table: Any, row: Row, keys: list[str]) -> None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).values(**row)
    rest = {name: stmt.excluded[name] for name in row if name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=rest))


# --- the ledger's bulk path -------------------------------------------------------------


def bulk_insert_transactions(conn: Connection, rows: list[Row]) -> None:
    """Insert many ledger rows at once: COPY on PostgreSQL, one executemany on SQLite.

    The only backend-specific step of bulk ingest; COPY skips per-row statement overhead.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        insert_transactions(conn, rows)
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    columns = ", ".join(f'"{name}"' for name in TXN_COLUMNS)
    with raw.cursor() as cur, cur.copy(f"COPY transactions ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in TXN_COLUMNS])


def existing_externals_of(conn: Connection, source: str, external_ids: list[str]) -> set[str]:
    """Which ``external_ids`` of ``source`` are already in the ledger (one IN query per chunk)."""
    found: set[str] = set()
    for start in range(0, len(external_ids), 5000):
        chunk = external_ids[start : start + 5000]
        stmt = select(transactions.c.external_id).where(
            transactions.c.source == source, transactions.c.external_id.in_(chunk)
        )
        found.update(r[0] for r in conn.execute(stmt))
    return found


def existing_agents(conn: Connection, agent_ids: list[str]) -> set[str]:
    from spendwarden.db.tables.core import agents

    stmt = select(agents.c.id).where(agents.c.id.in_(agent_ids))
    return {r[0] for r in conn.execute(stmt)}


def ledger_rows(
    conn: Connection,
    *,
    agent_id: str | None,
    since: int | None,
    until: int | None,
    after: str | None,
    limit: int,
) -> list[Row]:
    """Ledger rows oldest first by id, for export (keyset pages)."""
    stmt = select(transactions).order_by(transactions.c.id).limit(limit)
    if agent_id is not None:
        stmt = stmt.where(transactions.c.agent_id == agent_id)
    if since is not None:
        stmt = stmt.where(transactions.c.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(transactions.c.occurred_at < until)
    if after is not None:
        stmt = stmt.where(transactions.c.id > after)
    return [dict(r) for r in conn.execute(stmt).mappings()]


# --- change counters --------------------------------------------------------------------


def get_version(conn: Connection, name: str) -> int:
    value = conn.execute(select(ingest_versions.c.version).where(ingest_versions.c.name == name)).scalar()
    return 0 if value is None else int(value)


def bump_version(conn: Connection, name: str) -> None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(ingest_versions).values(name=name, version=1)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["name"], set_={"version": ingest_versions.c.version + 1})
    )


# --- prices -----------------------------------------------------------------------------


def list_prices(conn: Connection) -> list[Row]:
    stmt = select(prices).order_by(prices.c.provider, prices.c.model)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def get_price(conn: Connection, provider: str, model: str) -> Row | None:
    return _one(conn, select(prices).where(prices.c.provider == provider, prices.c.model == model))


def put_price(conn: Connection, row: Row) -> None:
    _upsert(conn, prices, row, ["provider", "model"])


def delete_price(conn: Connection, provider: str, model: str) -> int:
    stmt = delete(prices).where(prices.c.provider == provider, prices.c.model == model)
    return conn.execute(stmt).rowcount


# --- rail mappings ----------------------------------------------------------------------


def stripe_agent(conn: Connection, stripe_ids: list[str]) -> str | None:
    """The agent of the first mapped id (customer before cardholder, as given)."""
    if not stripe_ids:
        return None
    stmt = select(stripe_agent_map.c.stripe_id, stripe_agent_map.c.agent_id).where(
        stripe_agent_map.c.stripe_id.in_(stripe_ids)
    )
    found = {r[0]: r[1] for r in conn.execute(stmt)}
    return next((found[i] for i in stripe_ids if i in found), None)


def list_stripe_map(conn: Connection) -> list[Row]:
    stmt = select(stripe_agent_map).order_by(stripe_agent_map.c.stripe_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def put_stripe_map(conn: Connection, row: Row) -> None:
    _upsert(conn, stripe_agent_map, row, ["stripe_id"])


def delete_stripe_map(conn: Connection, stripe_id: str) -> int:
    return conn.execute(delete(stripe_agent_map).where(stripe_agent_map.c.stripe_id == stripe_id)).rowcount


def get_stripe_event(conn: Connection, event_id: str) -> Row | None:
    return _one(conn, select(stripe_events).where(stripe_events.c.id == event_id))


def insert_stripe_event(conn: Connection, row: Row) -> bool:
    """Remember a processed event; False when another delivery recorded it first."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(stripe_events).values(**row).on_conflict_do_nothing(index_elements=["id"])
    return bool(conn.execute(stmt).rowcount)


def address_agent(conn: Connection, address: str) -> str | None:
    stmt = select(agent_addresses.c.agent_id).where(agent_addresses.c.address == address)
    value = conn.execute(stmt).scalar()
    return None if value is None else str(value)


def list_addresses(conn: Connection, agent_id: str | None) -> list[Row]:
    stmt = select(agent_addresses).order_by(agent_addresses.c.address)
    if agent_id is not None:
        stmt = stmt.where(agent_addresses.c.agent_id == agent_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def put_address(conn: Connection, row: Row) -> None:
    _upsert(conn, agent_addresses, row, ["address"])


def delete_address(conn: Connection, address: str) -> int:
    return conn.execute(delete(agent_addresses).where(agent_addresses.c.address == address)).rowcount


# --- files and sockets ------------------------------------------------------------------


def get_import_progress(conn: Connection, file_id: str) -> Row | None:
    return _one(conn, select(import_progress).where(import_progress.c.id == file_id))


def put_import_progress(conn: Connection, row: Row) -> None:
    _upsert(conn, import_progress, row, ["id"])


def get_watch_cursor(conn: Connection, url: str) -> str | None:
    value = conn.execute(select(watch_cursors.c.cursor).where(watch_cursors.c.url == url)).scalar()
    return None if value is None else str(value)


def put_watch_cursor(conn: Connection, url: str, cursor: str, at: int) -> None:
    _upsert(conn, watch_cursors, {"url": url, "cursor": cursor, "updated_at": at}, ["url"])


# --- outbound webhooks ------------------------------------------------------------------


def list_subscriptions(conn: Connection, *, enabled_only: bool = False) -> list[Row]:
    stmt = select(webhook_subscriptions).order_by(webhook_subscriptions.c.id)
    if enabled_only:
        stmt = stmt.where(webhook_subscriptions.c.enabled.is_(True))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def get_subscription(conn: Connection, sub_id: str) -> Row | None:
    return _one(conn, select(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id))


def insert_subscription(conn: Connection, row: Row) -> None:
    conn.execute(webhook_subscriptions.insert().values(**row))


def update_subscription(conn: Connection, sub_id: str, values: Row) -> None:
    conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id).values(**values))


def delete_subscription(conn: Connection, sub_id: str) -> int:
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == sub_id))
    return conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id)).rowcount


def insert_webhook_deliveries(conn: Connection, rows: list[Row]) -> None:
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)


def claim_webhook_deliveries(conn: Connection, *, now: int, lease_until: int, limit: int) -> list[Row]:
    """Lease due webhook deliveries (see ``queries.claim_due_rows``)."""
    return claim_due_rows(conn, webhook_deliveries, now=now, lease_until=lease_until, limit=limit)


def update_webhook_delivery(conn: Connection, delivery_id: str, values: Row) -> None:
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values))


def get_webhook_delivery(conn: Connection, delivery_id: str) -> Row | None:
    return _one(conn, select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id))


def list_webhook_deliveries(
    conn: Connection, sub_id: str, *, status: str | None, before: str | None, limit: int
) -> list[Row]:
    stmt = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.subscription_id == sub_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(webhook_deliveries.c.status == status)
    if before is not None:
        stmt = stmt.where(webhook_deliveries.c.id < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def pending_webhook_count(conn: Connection) -> int:
    stmt = (
        select(func.count())
        .select_from(webhook_deliveries)
        .where(webhook_deliveries.c.status.in_(("pending", "sending")))
    )
    return int(conn.execute(stmt).scalar_one())
