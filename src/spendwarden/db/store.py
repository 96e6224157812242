"""The store: how the ledger opens transactions, and the per-backend differences.

``agent_tx`` is the one place where "one agent, one lock" happens: on SQLite the process
write lock plus ``BEGIN IMMEDIATE``; on PostgreSQL ``SELECT … FOR UPDATE`` on the agent's
state row. Everything that changes an agent's money runs inside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from spendwarden.db.engine import Engines, make_engines
from spendwarden.db.tables import core
from spendwarden.errors import AgentNotFound


class Store:
    """Owns the engines; hands out read connections and write transactions."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.engines: Engines = make_engines(url, pool_size=pool_size)
        self.url = self.engines.url
        self.dialect = self.engines.dialect
        self._writer_conn: Connection | None = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engines.read.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction not tied to one agent (admin rows, audit, batches)."""
        if self.is_postgres:
            with self.engines.write.begin() as conn:
                yield conn
            return
        with self.engines.write_lock:
            conn = self._writer()
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                if conn.invalidated or conn.closed:
                    self._writer_conn = None
                raise

    def _writer(self) -> Connection:
        """SQLite's one writer connection, kept open: checking a connection out of the pool
        and back (with its reset) for every write cost more than the write itself."""
        if self._writer_conn is None or self._writer_conn.closed:
            self._writer_conn = self.engines.write.connect()
        return self._writer_conn

    @contextmanager
    def agent_tx(self, agent_id: str) -> Iterator[tuple[Connection, dict[str, Any]]]:
        """A write transaction holding the agent's lock; yields its state row."""
        with self.write() as conn:
            state = lock_agent_state(conn, agent_id, self.is_postgres)
            if state is None:
                raise AgentNotFound(agent_id=agent_id)
            yield conn, state

    def upsert_add(self, conn: Connection, table: Any, keys: dict[str, Any], deltas: dict[str, int]) -> None:
        """``INSERT … ON CONFLICT (keys) DO UPDATE SET col = col + delta`` on either backend."""
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        stmt = dialect_insert(table).values(**keys, **deltas)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={col: table.c[col] + stmt.excluded[col] for col in deltas},
        )
        conn.execute(stmt)

    @contextmanager
    def leader_lock(self, name: str) -> Iterator[bool]:
        """Yield True in exactly one process at a time (PostgreSQL advisory lock); SQLite
        has one writer per file, so every caller leads."""
        if not self.is_postgres:
            yield True
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engines.write.connect() as conn:
            got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(k)s)", {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": key})
                    conn.commit()

    def dispose(self) -> None:
        with self.engines.write_lock:
            if self._writer_conn is not None:
                self._writer_conn.close()
                self._writer_conn = None
        self.engines.dispose()


def lock_agent_state(conn: Connection, agent_id: str, postgres: bool) -> dict[str, Any] | None:
    stmt = select(core.agent_state).where(core.agent_state.c.agent_id == agent_id)
    if postgres:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def open_store(url: str, **kwargs: Any) -> Store:
    return Store(url, **kwargs)
