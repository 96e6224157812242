"""A Spendwarden server for benchmarks: the real app plus a no-op endpoint on the same
stack, so ratios compare like with like.

The no-op is built as ``POST /v1/authorize`` is served (``api/fast.py``): a route matched
first, behind the same middleware, that reads the body and validates it with the same
model, then answers a constant. The server is set up as ``spendwarden serve`` sets it up
(on PostgreSQL the periodic work in a child ``spendwarden worker``). (Added after the app's routers, it would be matched last
and pay for FastAPI's route matching and dependency machinery, flattering the ratio.)"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from spendwarden.api.app import create_app
from spendwarden.api.responses import FastJSON
from spendwarden.api.schemas import AuthorizeBody
from spendwarden.config import Settings
from spendwarden.interpreter import tune_for_serving
from spendwarden.runtime import build_runtime
from spendwarden.worker_process import WorkerChild


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


def add_noop(app: Starlette) -> None:
    """``POST /bench/noop``, matched first as the fast authorize route is, and
    ``GET /bench/batches``."""
    app.router.routes.insert(0, Route("/bench/noop", noop, methods=["POST"]))
    app.router.routes.insert(1, Route("/bench/batches", batches, methods=["GET"]))


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
    postgres = runtime.store.is_postgres
    child = (
        WorkerChild(settings)
        if (settings.worker_process if settings.worker_process is not None else postgres)
        else None
    )
    if child is not None:
        child.start()
    try:
        app = create_app(runtime, run_periodic=child is None)
        add_noop(app)
        tune_for_serving(settings)  # as ``spendwarden serve`` does
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error", access_log=False)
    finally:
        if child is not None:
            child.stop()


if __name__ == "__main__":
    main()
