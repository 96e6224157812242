"""The store: how the ledger opens transactions, and the per-backend differences.

``write()`` opens every write transaction: on SQLite under the process write lock with
``BEGIN IMMEDIATE`` on one kept-open writer connection, concurrent units sharing one
commit (``db/group_commit.py``); on PostgreSQL from the pool.
"One agent, one lock" is taken inside it by ``ledger/unit.py`` (``SELECT … FOR UPDATE`` on
the agent's state row, ``db/hot.py``). ``leader_lock`` elects one replica for periodic work.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from spendwarden.db.checkpoint import Checkpointer
from spendwarden.db.engine import Engines, make_engines
from spendwarden.db.group_commit import GroupCommitter
from spendwarden.db.loop_commit import LoopCommitter

GROUP_COMMIT_BATCH = 256  # units at most in one shared SQLite commit (synchronous=FULL)


class Store:
    """Owns the engines; hands out read connections and write transactions."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        sqlite_synchronous: str = "normal",
        loop_commit: bool = True,
        session_url: str | None = None,
        prepared_statements: bool = True,
    ) -> None:
        self.engines: Engines = make_engines(
            url,
            pool_size=pool_size,
            sqlite_synchronous=sqlite_synchronous,
            session_url=session_url,
            prepared_statements=prepared_statements,
        )
        self.url = self.engines.url
        # PostgreSQL: where connections that keep session state go (LISTEN, leader locks).
        self.session_url = session_url or self.url
        self.prepared_statements = prepared_statements
        self.dialect = self.engines.dialect
        self._writer_conn: Connection | None = None
        self._hot_local = threading.local()
        self._hot_conns: list[Any] = []
        self._checkpointer: Checkpointer | None = None
        # Units share commits only where a commit costs an fsync (db/group_commit.py).
        max_batch = GROUP_COMMIT_BATCH if sqlite_synchronous == "full" else 1
        self._group = GroupCommitter(
            self.engines.write_lock, self._writer, max_batch=max_batch, on_commit=self._committed
        )
        # SQLite: the event loop's write requests, one transaction per loop iteration's batch.
        self.loop_writes = LoopCommitter(self._group) if loop_commit and not self.is_postgres else None

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
        try:
            with self._group.unit() as conn:
                yield conn
        except BaseException:
            writer = self._writer_conn
            if writer is not None and (writer.invalidated or writer.closed):
                self._writer_conn = None
            raise

    @contextmanager
    def hot_read(self) -> Iterator[Any]:
        """A driver connection in autocommit mode for the one-statement reads every request
        makes (the bearer-token lookup): each statement sees the latest commit. SQLite keeps
        one open connection per thread; PostgreSQL borrows one from the pool (autocommit, so
        returning it costs no rollback round trip)."""
        if self.is_postgres:
            with self.autocommit() as dbapi:
                yield dbapi
            return
        conn = getattr(self._hot_local, "conn", None)
        if conn is None:
            assert self.engines.hot is not None
            conn = self.engines.hot.raw_connection()  # isolation_level=None: autocommit
            self._hot_local.conn = conn
            self._hot_conns.append(conn)
        yield conn.driver_connection

    @contextmanager
    def autocommit(self) -> Iterator[Any]:
        """PostgreSQL: a pooled driver connection in autocommit mode, for work that is one
        statement, its own transaction (a key lookup; ``spendwarden_authorize``, which
        commits with its call). Returning it to the pool costs no rollback round trip."""
        assert self.is_postgres, "SQLite has one writer connection: use write()"
        proxied = self.engines.write.raw_connection()
        try:
            dbapi = proxied.driver_connection
            assert dbapi is not None
            dbapi.autocommit = True
            try:
                yield dbapi
            finally:
                dbapi.autocommit = False
        finally:
            proxied.close()

    def _writer(self) -> Connection:
        """SQLite's one writer connection, kept open: checking a connection out of the pool
        and back (with its reset) for every write cost more than the write itself."""
        if self._writer_conn is None or self._writer_conn.closed:
            self._writer_conn = self.engines.write.connect()
            dbapi: Any = self._writer_conn.connection.dbapi_connection
            dbapi.execute("PRAGMA wal_autocheckpoint=0")  # db/checkpoint.py does it off the write path
            if self._checkpointer is None:
                database = self.engines.write.url.database
                assert database is not None
                self._checkpointer = Checkpointer(database, self._group.writer_held)
        return self._writer_conn

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()

    @contextmanager
    def leader_lock(self, name: str) -> Iterator[bool]:
        """Yield True in exactly one process at a time (PostgreSQL advisory lock); SQLite
        has one writer per file, so every caller leads."""
        if not self.is_postgres:
            yield True
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session = self.engines.session
        assert session is not None
        # A session lock: behind a transaction pooler it must go to ``session_url``, or the
        # unlock (and every other replica's try) may reach another server connection.
        with session.connect() as conn:
            got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(k)s)", {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    try:
                        conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": key})
                        conn.commit()
                    except Exception:
                        conn.invalidate()  # closed, not pooled: its session's lock goes with it
                        raise

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self.engines.write_lock:
            if self._writer_conn is not None:
                self._writer_conn.close()
                self._writer_conn = None
        for conn in self._hot_conns:
            conn.close()
        self._hot_conns.clear()
        self._hot_local = threading.local()
        self.engines.dispose()


def open_store(url: str, **kwargs: Any) -> Store:
    return Store(url, **kwargs)
