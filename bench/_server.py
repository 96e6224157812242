"""A Spendwarden server for benchmarks: the real app plus a no-op endpoint on the same
stack, so ratios compare like with like, and a bare durable insert of the hold row.

The no-op is built as ``POST /v1/authorize`` is served (``api/fast.py``): a route matched
first, behind the same middleware, that reads the body and validates it with the same
model, then answers a constant. (Added after the app's routers, it would be matched last
and pay for FastAPI's route matching and dependency machinery, flattering the ratio.) The
server is set up as ``spendwarden serve`` sets it up (on PostgreSQL the periodic work in a
child ``spendwarden worker``).

``POST /bench/insert`` is the floor of any durable authorization on this machine: the no-op's
work, then the very row an approval writes (``new_hold``) inserted into ``bench_holds``, a
copy of ``holds`` with its keys and indexes, and committed before the answer. Requests that
arrive together share a statement and a commit, as authorizations do (PostgreSQL: the same
``AsyncBatcher`` on the same asyncpg connections; SQLite: one transaction per event-loop
iteration on a connection of its own, WAL, ``synchronous=NORMAL`` and no checkpoint inside a
commit, as the store's writer). No key lookup, no lock, no counter, no cap: what authorize
adds on top is ours."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from spendwarden.api.app import create_app
from spendwarden.api.convert import authorize_request
from spendwarden.api.responses import FastJSON
from spendwarden.api.schemas import AuthorizeBody
from spendwarden.clock import SystemClock, to_us
from spendwarden.config import Settings
from spendwarden.db.hot import HOLD_COLUMNS
from spendwarden.db.pg_batch import AsyncBatcher
from spendwarden.interpreter import tune_for_serving
from spendwarden.ledger.approval import new_hold
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import Runtime, build_runtime
from spendwarden.worker_process import WorkerChild, periodic_in_child


async def noop(request: Request) -> FastJSON:
    """The cheapest endpoint on this stack: same middleware, same body model, no work."""
    AuthorizeBody.model_validate(json.loads(await request.body()))
    return FastJSON({"id": "noop", "status": "approved", "headroom": {}})


async def batches(request: Request) -> FastJSON:
    """How many authorizations the fast route decided in how many batches: PostgreSQL's
    calls of ``spendwarden_authorize_batch`` (``db/pg_batch.py``, batches of two or more) or
    SQLite's loop commits (``db/loop_commit.py``)."""
    connections = request.app.state.pg_connections
    if connections is not None and connections.batcher is not None:
        return FastJSON({"batches": connections.batcher.batches, "batched": connections.batcher.batched})
    loop_writes = request.app.state.runtime.store.loop_writes
    if loop_writes is not None:
        return FastJSON({"batches": loop_writes.commits, "batched": loop_writes.units})
    return FastJSON({"batches": 0, "batched": 0})


_CLOCK = SystemClock()
_PG_TYPES = {"amount": "bigint", "created_at": "bigint", "expires_at": "bigint"}
_PG_INSERT = (
    f"INSERT INTO bench_holds ({', '.join(HOLD_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${n}::{_PG_TYPES.get(c, 'text')}[]" for n, c in enumerate(HOLD_COLUMNS, 1))
    + ")"
)
_SQLITE_INSERT = (
    f"INSERT INTO bench_holds ({', '.join(HOLD_COLUMNS)}) VALUES ({', '.join('?' * len(HOLD_COLUMNS))})"
)


async def insert(request: Request) -> FastJSON:
    """The no-op's work plus a durable INSERT of the hold row an approval writes."""
    body = AuthorizeBody.model_validate(json.loads(await request.body()))
    row = hold_row(authorize_request(body))
    await request.app.state.bench_inserts(row)
    return FastJSON({"id": row[0], "status": "approved", "headroom": {}})


def hold_row(req: AuthorizeRequest) -> tuple[Any, ...]:
    """The row an approval of ``req`` writes, in ``HOLD_COLUMNS`` order."""
    hold = new_hold("bench", req, to_us(_CLOCK.now()), 600)
    return tuple(hold[c] for c in HOLD_COLUMNS)


def pg_bare_inserts(
    runtime: Runtime, connection: Callable[[], AbstractAsyncContextManager[Any]]
) -> AsyncBatcher[tuple[Any, ...], None]:
    """PostgreSQL: hold rows inserted into ``bench_holds`` (created here) on ``connection``'s
    asyncpg connections, the rows awaited together in one statement and one commit, as
    authorizations share ``spendwarden_authorize_batch`` (the same batcher, the same size)."""
    with runtime.store.engines.write.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_holds (LIKE holds INCLUDING ALL)")

    async def many(rows: list[tuple[Any, ...]]) -> list[None]:
        async with connection() as conn:
            await conn.execute(_PG_INSERT, *(list(column) for column in zip(*rows, strict=True)))
        return [None] * len(rows)

    return _row_batcher(many, max_batch=runtime.settings.authorize_batch_size)


def bare_inserts(app: Starlette, runtime: Runtime) -> AsyncBatcher[tuple[Any, ...], None]:
    """The batcher of ``POST /bench/insert``, after creating ``bench_holds``."""
    store = runtime.store
    if store.is_postgres:
        return pg_bare_inserts(runtime, lambda: app.state.pg_connections.connection())
    path = make_url(store.url).database
    assert path is not None
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # as the store's writer: no checkpoint inside a commit
    ddl = db.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'holds' AND sql IS NOT NULL").fetchall()
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'bench_holds'").fetchone():
        for (statement,) in ddl:  # the table, then its indexes, renamed
            db.execute(statement.replace("holds", "bench_holds"))

    async def many_sqlite(rows: list[tuple[Any, ...]]) -> list[None]:
        db.execute("BEGIN")
        db.executemany(_SQLITE_INSERT, rows)
        db.execute("COMMIT")
        return [None] * len(rows)

    return _row_batcher(many_sqlite, max_batch=64, in_flight=1)


def _row_batcher(
    many: Callable[[list[tuple[Any, ...]]], Awaitable[list[None]]], **options: int
) -> AsyncBatcher[tuple[Any, ...], None]:
    """Rows awaited together written by one call of ``many``; a lone row is a batch of one."""

    async def one(row: tuple[Any, ...]) -> None:
        await many([row])

    return AsyncBatcher(one, many, lambda _: False, **options)


def add_noop(app: Starlette, runtime: Runtime) -> None:
    """``POST /bench/noop`` and ``POST /bench/insert``, matched first as the fast authorize
    route is, and ``GET /bench/batches``."""
    app.state.bench_inserts = bare_inserts(app, runtime)
    app.router.routes.insert(0, Route("/bench/noop", noop, methods=["POST"]))
    app.router.routes.insert(1, Route("/bench/insert", insert, methods=["POST"]))
    app.router.routes.insert(2, Route("/bench/batches", batches, methods=["GET"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    runtime = build_runtime(Settings(database_url=args.database, admin_token=args.admin_token))
    # As ``spendwarden serve`` does: on PostgreSQL the periodic work runs in a child
    # ``spendwarden worker`` (``worker_process``), not in this process's threads.
    settings = runtime.settings
    child = WorkerChild(settings) if periodic_in_child(settings, runtime.store.is_postgres) else None
    if child is not None:
        child.start()
    try:
        app = create_app(runtime, run_periodic=child is None)
        add_noop(app, runtime)
        tune_for_serving(settings)  # as ``spendwarden serve`` does
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error", access_log=False)
    finally:
        if child is not None:
            child.stop()


if __name__ == "__main__":
    main()
