"""Engines for SQLite (default, WAL, one writer) and PostgreSQL (psycopg 3).

SQLite: writes use ``BEGIN IMMEDIATE`` so a check-then-debit can never race, and a
process-wide lock serialises writers inside one process so they queue in memory instead
of polling ``busy_timeout``. Reads use plain deferred transactions and never block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from spendwarden.config import SqliteSynchronous


def normalise_url(url: str) -> str:
    """Accept the URLs people type: ``postgresql://…`` means psycopg 3, a path means SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    return url


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


@dataclass
class Engines:
    """The engines one store uses: ``write`` for transactions that change data, ``read``
    for queries. On PostgreSQL both are the same pool."""

    url: str
    write: Engine
    read: Engine
    dialect: str
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # SQLite: unpooled connections that ``Store.hot_read`` keeps open, one per thread.
    hot: Engine | None = None
    # PostgreSQL: connections whose session state must last (advisory locks held across
    # transactions): ``write`` itself unless a session URL bypasses a transaction pooler.
    session: Engine | None = None

    def dispose(self) -> None:
        self.write.dispose()
        if self.read is not self.write:
            self.read.dispose()
        if self.hot is not None:
            self.hot.dispose()
        if self.session is not None and self.session is not self.write:
            self.session.dispose()


SQLITE_SYNCHRONOUS: tuple[str, ...] = get_args(SqliteSynchronous)


def make_engines(
    url: str,
    *,
    pool_size: int = 20,
    sqlite_synchronous: str = "normal",
    session_url: str | None = None,
    prepared_statements: bool = True,
) -> Engines:
    """``session_url`` and ``prepared_statements`` (PostgreSQL): see ``Settings``'
    ``database_session_url`` and ``db_prepared_statements``."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engines(url, sqlite_synchronous)
    # LIFO: the connection just returned goes out next, so a lone caller keeps talking to one
    # warm backend instead of cycling through the pool's (FIFO's default); measured in process,
    # one caller: 1,456-1,552 -> 1,885-1,993 authorizations/s (docs/BENCHMARKS.md).
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=False,
        pool_timeout=60,
        pool_use_lifo=True,
        # psycopg prepares a statement on its fifth run; None: never (a transaction pooler
        # runs the next transaction on a server connection that never saw it prepared).
        connect_args={} if prepared_statements else {"prepare_threshold": None},
    )
    session = engine
    if session_url is not None:
        # Leader locks only: a few connections, each held while its job runs.
        session = create_engine(normalise_url(session_url), pool_size=2, max_overflow=14, pool_use_lifo=True)
    return Engines(url=url, write=engine, read=engine, dialect="postgresql", session=session)


def _sqlite_engines(url: str, synchronous: str) -> Engines:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if memory:
        raise ValueError("use a file for SQLite (WAL needs one); tests use a temporary directory")
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
    write = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    read = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    hot = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30})
    _configure_sqlite(write, immediate=True, synchronous=synchronous)
    _configure_sqlite(read, immediate=False, synchronous=synchronous)
    _configure_sqlite(hot, immediate=False, synchronous=synchronous)
    return Engines(url=url, write=write, read=read, dialect="sqlite", hot=hot)


def _configure_sqlite(engine: Engine, *, immediate: bool, synchronous: str) -> None:
    """``synchronous``: NORMAL (a commit survives the process being killed, but an OS crash
    or power cut can take back the last ones) or FULL (each commit waits for an fsync)."""
    pragma_synchronous = f"PRAGMA synchronous={synchronous.upper()}"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(pragma_synchronous)
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA journal_size_limit=67108864")  # a WAL grown by a burst shrinks back
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        dbapi = conn.connection.dbapi_connection  # the raw driver: this runs per transaction
        if not dbapi.in_transaction:  # a group-commit batch already began it (db/group_commit.py)
            dbapi.execute(begin)


def make_null_pool_engine(url: str) -> Engine:
    """A throwaway engine for one-off admin work (migrations, creating databases)."""
    return create_engine(normalise_url(url), poolclass=NullPool)
