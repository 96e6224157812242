"""Reading the authorization's tables into memory after a restart, a restore or a failover.

Every authorization reads its agent's row, state row and current counters by primary key.
On a database larger than memory, right after a restore, a bulk load or a failover, none of
those pages is cached, and the first authorization of each agent reads about five pages
from disk: at 400,000 agents on the benchmark machine, p99 2.98 ms with a cold cache
against 1.44 ms once read (docs/SCALE.md). ``warm`` reads those tables and their indexes
once, sequentially, into the operating system's cache (where PostgreSQL's small
``shared_buffers`` finds them at memory speed): seconds of sequential reading instead of
hours of random ones spread over the first requests.

PostgreSQL: with the ``pg_prewarm`` extension when it is installed or can be created,
otherwise by scanning each table and each of its indexes in order. SQLite: the database file
is read through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from spendwarden.db.store import Store

log = logging.getLogger(__name__)

# What an authorization, a settlement or a key lookup reads for an agent.
HOT_TABLES = ("agents", "agent_state", "agent_keys", "spend_counters")
PAGE = 8192  # PostgreSQL's block size; SQLite is reported in the same unit


@dataclass(frozen=True)
class Warmed:
    relation: str
    pages: int
    seconds: float

    @property
    def megabytes(self) -> float:
        return self.pages * PAGE / 1e6


def warm(
    store: Store, *, use_extension: bool = True, progress: Callable[[Warmed], None] | None = None
) -> list[Warmed]:
    """Read the hot tables and their indexes; returns what was read, relation by relation."""
    if not store.is_postgres:
        return [_warm_sqlite(store, progress)]
    with store.autocommit() as dbapi:
        cur = dbapi.cursor()
        prewarm = use_extension and _has_prewarm(cur)
        out = []
        for table in HOT_TABLES:
            for relation, columns in _relations(cur, table):
                started = time.perf_counter()
                if prewarm:
                    cur.execute("SELECT pg_prewarm(%s::regclass, 'read')", (relation,))
                    pages = int(cur.fetchone()[0])
                else:
                    pages = _scan(cur, table, relation, columns)
                done = Warmed(relation, pages, round(time.perf_counter() - started, 3))
                out.append(done)
                if progress is not None:
                    progress(done)
        return out


def warm_in_background(store: Store) -> threading.Thread:
    """``warm`` in a daemon thread, as ``serve`` starts (setting ``warm_on_start``): the
    server answers meanwhile, and requests that need a page not yet read read it themselves.
    Logs what was read, or why it stopped (a failed warm-up is only slower, never wrong)."""

    def run() -> None:
        try:
            done = warm(store)
        except Exception:
            log.exception("warm on start stopped")
            return
        megabytes = sum(w.megabytes for w in done)
        log.info("warm on start: %.1f MB in %.1f s", megabytes, sum(w.seconds for w in done))

    thread = threading.Thread(target=run, name="spendwarden-warm", daemon=True)
    thread.start()
    return thread


def _has_prewarm(cur: Any) -> bool:
    """Whether ``pg_prewarm`` can be used, creating it where this user may."""
    try:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        return True
    except Exception:  # not installed on the server, or not allowed: scan instead
        return False


def _relations(cur: Any, table: str) -> list[tuple[str, list[str]]]:
    """The table (no key columns) and each of its indexes with its columns in order."""
    cur.execute(
        """
        SELECT c.relname, array_agg(a.attname ORDER BY k.ord)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass
        GROUP BY c.relname ORDER BY c.relname""",
        (table,),
    )
    return [(table, []), *((str(name), list(columns)) for name, columns in cur.fetchall())]


def _scan(cur: Any, table: str, relation: str, columns: list[str]) -> int:
    """Read a table by a sequential scan, an index by a full scan in its order (the planner
    told to use nothing else); returns the relation's size in pages."""
    if columns:
        cols = ", ".join(f'"{c}"' for c in columns)
        cur.execute("BEGIN")
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("SET LOCAL enable_sort = off")
        cur.execute(f'SELECT count(*) FROM (SELECT {cols} FROM "{table}" ORDER BY {cols}) AS s')
        cur.execute("COMMIT")
    else:
        cur.execute(f'SELECT count(*) FROM "{table}"')
    cur.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", (relation,))
    return int(cur.fetchone()[0])


def _warm_sqlite(store: Store, progress: Callable[[Warmed], None] | None) -> Warmed:
    """Read the database file (and its write-ahead log) through the operating system."""
    with store.read() as conn:
        name = conn.execute(text("PRAGMA database_list")).fetchall()[0][2]
    started, size = time.perf_counter(), 0
    for path in (Path(name), Path(name + "-wal")):
        if path.exists():
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    size += len(chunk)
    done = Warmed(Path(name).name, -(-size // PAGE), round(time.perf_counter() - started, 3))
    if progress is not None:
        progress(done)
    return done
