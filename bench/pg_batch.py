"""PostgreSQL's CPU per authorization in ``spendwarden_authorize_batch``: migration 0011's
set-based body against 0010's (a call of ``spendwarden_authorize`` per authorization), and
0011's with its arguments as arrays against joined texts (``pg_authorize.joined_batch_args``,
what the server sends), in one run, on one connection.

Creates a fresh database with 100 agents, installs 0010's body beside the current one under
another name, then makes the same batches through each (the blocking path's own call:
psycopg, a prepared statement), alternating, and reads the ``postgres`` processes' CPU time
from /proc around each block, and this process's own (encoding the arguments, decoding the
answers). Every call must be approved, or the run stops.

    python -m bench.pg_batch [--batch 8] [--batches 1500]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench._common import database, machine
from bench.cpu_per_request import cpu_seconds, pids
from spendwarden.config import Settings
from spendwarden.db import pg_authorize
from spendwarden.db.migrate import revision_module
from spendwarden.ledger import authorize_pg
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import build_runtime

AGENTS = 100


def run(batch: int, batches: int) -> dict[str, list[tuple[float, float]]]:
    old_body = revision_module("0010_authorize_batch.py").AUTHORIZE_BATCH.replace(
        "CREATE FUNCTION spendwarden_authorize_batch(", "CREATE FUNCTION bench_authorize_batch_0010("
    )
    arrays, joined = pg_authorize.batch_args, pg_authorize.joined_batch_args
    statements: dict[str, tuple[str, Callable[[list[pg_authorize.AuthorizeCall]], Any]]] = {
        "0010 (a call per authorization), arrays": (
            pg_authorize._BATCH.replace("spendwarden_authorize_batch", "bench_authorize_batch_0010"),
            arrays,
        ),
        "0011 (set-based), arrays": (pg_authorize._BATCH, arrays),
        "0011 (set-based), joined texts": (pg_authorize._BATCH_JOINED, joined),
    }
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in statements}
    with database("postgres") as url:
        runtime = build_runtime(Settings(database_url=url))
        ledger, core = runtime.ledger, runtime.ledger.core
        for i in range(AGENTS):
            ledger.create_agent(AgentSpec(id=f"b{i}", tier="custom", caps={"daily": 10**15}), "bench")
        req = AuthorizeRequest(amount=100, vendor="openai", tool="chat", model="gpt-4o-mini", task_id="t")
        for i in range(AGENTS):  # known: the calls carry the agents' texts, as a warm server's do
            ledger.authorize(f"b{i}", req)

        def calls(r: int) -> list[pg_authorize.AuthorizeCall]:
            made = []
            for b in range(batch):
                agent_id = f"b{(r * batch + b) % AGENTS}"
                call = authorize_pg._prepare(core, agent_id, req, core.known_agents.get(agent_id))
                assert call is not None
                made.append(call)
            return made

        with runtime.store.autocommit() as dbapi:
            dbapi.execute(old_body)
            for _ in range(2):
                for name, (sql, args) in statements.items():
                    for r in range(50):  # warm: prepared, planned
                        dbapi.execute(sql, args(calls(r)), prepare=True).fetchall()
                    made = [calls(r) for r in range(batches)]  # untimed: the callers' own work
                    server = pids("-u", "postgres")
                    before, ours = cpu_seconds(server), time.process_time()
                    for r in range(batches):
                        rows = dbapi.execute(sql, args(made[r]), prepare=True).fetchall()
                        if any(row[1] != "approved" for row in rows):
                            raise RuntimeError(f"{name}: not every call approved: {rows}")
                    per = batches * batch / 1e6
                    cpu[name].append(
                        ((cpu_seconds(server) - before) / per, (time.process_time() - ours) / per)
                    )
        runtime.close()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=8, help="authorizations per call")
    parser.add_argument("--batches", type=int, default=1500, help="calls per block (2 blocks each)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    for name, values in run(args.batch, args.batches).items():
        server = " / ".join(f"{v:.1f}" for v, _ in values)
        ours = " / ".join(f"{v:.1f}" for _, v in values)
        print(f"{name}: CPU per authorization, PostgreSQL {server} µs, this process {ours} µs")
    print(f"(batches of {args.batch}; {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
