"""Authorization benchmark (issue 2, DESIGN.md §7).

Measures, in one run per backend:
  * HTTP throughput of POST /v1/authorize vs a no-op endpoint on the same server stack
    (same uvicorn + FastAPI + body model), driven by wrk — ratio target ≥ 0.5;
  * p50/p99 latency at half the no-op rate — target p99 ≤ 10 ms — from 16 paced Python
    client processes (open loop: latency from the scheduled send) and from wrk paced by a
    pause between requests (``wrk_paced``: C, so the clients do not take the server's CPU),
    with the no-op paced the same way beside it (what the stack and the machine cost alone);
  * the same for a bare durable INSERT of the hold row behind the same stack
    (``POST /bench/insert``: the no-op's work, the INSERT, a commit shared as authorizations
    share theirs): the floor of any authorization that writes before it answers, on this
    machine;
  * one client in sequence: p50 — target ≤ 1 ms;
  * in-process (embedded) authorizations/s, one caller and 16 concurrent callers
    (threads: each its own transaction under SQLite's one writer), and 16 asyncio tasks on
    one event loop (``ledger.on_loop``; also through one ``AsyncClient.embedded``, as an
    asyncio agent calls it) — target ≥ 10,000/s.

On PostgreSQL the in-process figures are also taken on the locked path (four round trips
per authorization instead of ``spendwarden_authorize``'s one) in the same run;
``--locked-path`` serves the HTTP part that way too. Concurrent authorizations share a call
of ``spendwarden_authorize_batch`` and its commit (``authorize_batch_size``, migration
0010); the same run also times 16 callers in process and the wrk load over HTTP with
``authorize_batch_size=1`` (every authorization its own call and commit), for the A/B.
On SQLite the authorizations the server answers in one event-loop iteration are decided
as one batch in one transaction (``sqlite_loop_commit``, ``db/loop_commit.py``); the same
run also times wrk with it off.

``--sqlite-synchronous full`` runs SQLite with an fsync per commit (concurrent writes then
share commits: group commit); the default is the server's, ``normal``.

Usage: python -m bench.authorize [--backend sqlite|postgres|both] [--seconds 8] [--locked-path]
                                 [--sqlite-synchronous normal|full]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._common import database, machine, percentile, server
from bench._server import hold_row, pg_bare_inserts
from spendwarden.config import Settings
from spendwarden.db import hot
from spendwarden.db.pg_authorize import AsyncConnections
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.on_loop import LoopAuthorizer
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import Runtime, build_runtime
from spendwarden.sdk import AsyncClient

ADMIN = "bench-admin-token-0123456789abcdef"
BODY = {"amount_usd": "0.000100", "vendor": "openai", "tool": "chat", "model": "gpt-4o-mini"}
AGENTS = 100
INPROC_THREADS = 16


def create_agents(url: str, n: int) -> list[str]:
    keys = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
        for i in range(n):
            r = c.post("/v1/agents", json={"id": f"bench-{i}", "tier": "custom"})
            keys.append(r.json()["api_key"])
    return keys


WRK_LUA = """
keys = {%s}
i = 0
request = function()
  i = i + 1
  local h = {}
  h["Content-Type"] = "application/json"
  h["Authorization"] = "Bearer " .. keys[(i %% #keys) + 1]
  return wrk.format("POST", "%s", h, '%s')
end
"""


def wrk(url: str, path: str, keys: list[str], seconds: int, connections: int = 16) -> float:
    lua = WRK_LUA % (",".join(f'"{k}"' for k in keys), path, json.dumps(BODY))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(f.name).unlink()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk saw errors on {path}: {non2xx.group(0)}\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


WRK_PACED_LUA = (
    WRK_LUA
    + """
pause = %f
delay = function()
  local whole = math.floor(pause)
  if math.random() < pause - whole then return whole + 1 end
  return whole
end
done = function(summary, latency, requests)
  io.write(string.format("PACED %%f %%f %%f\\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000))
end
"""
)
PACED_CONNECTIONS = 48


def wrk_paced(url: str, path: str, keys: list[str], rate: float, seconds: int) -> tuple[float, float, float]:
    """p50 and p99 ms at about ``rate`` requests/s, and the rate reached, from wrk: a load
    generator in C, where 16 Python client processes at ~5,000/s took CPU of their own from
    the server's two cores and measured their own lateness. Each of ``PACED_CONNECTIONS``
    connections pauses between an answer and its next request (wrk's ``delay``, whole
    milliseconds, dithered to the fraction); the pause is set from two 2-second calibration
    runs' mean latency. A closed loop: a server stall would hold requests back rather than
    queue them, so it suits a server without stalls (``gc_freeze``), and the rate reached
    is printed with it."""
    pause_ms = PACED_CONNECTIONS / rate * 1000
    for run_seconds in (2, 2, seconds):
        lua = WRK_PACED_LUA % (",".join(f'"{k}"' for k in keys), path, json.dumps(BODY), max(pause_ms, 0.0))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(lua)
        command = ["wrk", "-t1", f"-c{PACED_CONNECTIONS}", f"-d{run_seconds}s", "-s", f.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        Path(f.name).unlink()
        reached = re.search(r"Requests/sec:\s+([\d.]+)", out)
        paced = re.search(r"PACED ([\d.]+) ([\d.]+) ([\d.]+)", out)
        assert reached and paced, out
        # each connection's cycle is its pause plus the answer's latency: aim the cycle at rate
        pause_ms = PACED_CONNECTIONS / rate * 1000 - float(paced.group(3))
    assert reached and paced
    return float(paced.group(1)), float(paced.group(2)), float(reached.group(1))


def _paced(
    url: str,
    path: str,
    keys: list[str],
    rate: float,
    seconds: float,
    out: mp.Queue[list[float]],
    paced: bool = True,
) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    body = json.dumps(BODY)
    latencies: list[float] = []
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        conn.request(
            "POST",
            path,
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {keys[i % len(keys)]}"},
        )
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        # Paced: from the scheduled send time (no coordinated omission); in sequence: the request itself.
        latencies.append(time.perf_counter() - (scheduled if paced else sent))
    out.put(latencies)


def paced_latency(
    url: str, path: str, keys: list[str], rate: float, seconds: float, clients: int = 16
) -> list[float]:
    """Latencies of ``rate`` requests a second, from ``clients`` processes each on one
    connection, as many as wrk's: a client sends its next request only after the answer,
    so with few clients a request slower than a client's interval held the clients back
    and the queue was theirs, not the server's (with 4 at 2,200/s on PostgreSQL: p50
    180 ms; with 16: 2.3 ms, p99 7.7 ms)."""
    queue: mp.Queue[list[float]] = mp.Queue()
    procs = [
        mp.Process(target=_paced, args=(url, path, keys[i::clients], rate / clients, seconds, queue))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    for _ in procs:
        latencies += queue.get()
    for p in procs:
        p.join()
    return latencies


def sequential_latency(url: str, path: str, keys: list[str], n: int = 2000) -> list[float]:
    out: mp.Queue[list[float]] = mp.Queue()
    _paced(url, path, keys, rate=1e9, seconds=n / 1e9, out=out, paced=False)
    latencies: list[float] = out.get()
    return latencies


def in_process(
    database_url: str,
    threads: int,
    n: int = 20000,
    *,
    in_database: bool | None = None,
    bare: dict[str, float] | None = None,
    batch_size: int | None = None,
) -> float:
    """Embedded authorizations/s from ``threads`` concurrent callers (each its own agents'
    round-robin share), as an in-process gateway or a threaded server would call it.
    ``in_database``: PostgreSQL's one-round-trip function (None: the settings' default).
    ``bare``: also time ``bare_insert`` on the same database, into ``bare["bare_insert"]``.
    ``batch_size``: PostgreSQL's ``authorize_batch_size`` (None: the settings' default)."""
    settings = Settings(database_url=database_url, admin_token=ADMIN)
    if in_database is not None:
        settings = settings.model_copy(update={"authorize_in_database": in_database})
    if batch_size is not None:
        settings = settings.model_copy(update={"authorize_batch_size": batch_size})
    runtime = build_runtime(settings)
    ledger = runtime.ledger
    for i in range(AGENTS):
        ledger.create_agent(AgentSpec(id=f"inproc-{i}", tier="custom", caps={"daily": 10**15}), "bench")
    req = AuthorizeRequest(amount=100, vendor="openai", tool="chat", model="gpt-4o-mini")
    for i in range(500):
        ledger.authorize(f"inproc-{i % AGENTS}", req)

    def caller(offset: int) -> None:
        for i in range(offset, n, threads):
            ledger.authorize(f"inproc-{i % AGENTS}", req)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(caller, range(threads)))
    elapsed = time.perf_counter() - start
    if bare is not None:
        bare["bare_insert"] = bare_insert(runtime, n)
    runtime.close()
    return n / elapsed


def in_process_on_loop(database_url: str, tasks: int, n: int = 20000, *, sdk: bool = False) -> float:
    """Embedded authorizations/s from ``tasks`` concurrent asyncio tasks on one event loop
    (``asyncio.run``, no GC tuning: as an asyncio agent program would call it), through
    ``ledger.on_loop.LoopAuthorizer`` over the agents, or with ``sdk`` through one
    ``AsyncClient.embedded`` of one agent, as an agent program holds it (body validation,
    errors and the answer's model included)."""
    settings = Settings(database_url=database_url, admin_token=ADMIN)
    runtime = build_runtime(settings)
    ledger = runtime.ledger
    for i in range(AGENTS):
        ledger.create_agent(AgentSpec(id=f"inproc-{i}", tier="custom", caps={"daily": 10**15}), "bench")
    req = AuthorizeRequest(amount=100, vendor="openai", tool="chat", model="gpt-4o-mini")

    async def timed() -> float:
        authorizer = LoopAuthorizer(ledger)
        client = AsyncClient.embedded(runtime=runtime, agent_id="inproc-0")

        async def call(i: int) -> None:
            if sdk:
                await client.authorize("0.0001", vendor="openai", tool="chat", model="gpt-4o-mini")
            else:
                await authorizer.authorize(f"inproc-{i % AGENTS}", req)

        async def caller(offset: int, count: int) -> None:
            for i in range(offset, count, tasks):
                await call(i)

        await asyncio.gather(*(caller(t, 500) for t in range(tasks)))  # warm: connections, statements
        start = time.perf_counter()
        await asyncio.gather(*(caller(t, n) for t in range(tasks)))
        elapsed = time.perf_counter() - start
        await authorizer.aclose()
        await client.aclose()  # closes its connections; the runtime was given, so it stays open
        return n / elapsed

    try:
        return asyncio.run(timed())
    finally:
        runtime.close()


def bare_insert_on_loop(database_url: str, tasks: int, n: int = 20000) -> float:
    """PostgreSQL: ``in_process_on_loop``'s floor. The hold rows its authorizations write,
    inserted from ``tasks`` asyncio tasks on one event loop into a copy of ``holds``, on the
    same kind of asyncpg connections, those awaited together sharing a statement and a
    commit through the same batcher: no lock, no read, no cap. Inserts/s."""
    runtime = build_runtime(Settings(database_url=database_url, admin_token=ADMIN))
    req = AuthorizeRequest(amount=100, vendor="openai", tool="chat", model="gpt-4o-mini")

    async def timed() -> float:
        settings = runtime.settings
        connections = AsyncConnections(runtime.store.url, settings.db_pool_size)
        await connections.open()
        inserts = pg_bare_inserts(runtime, connections.connection)

        async def caller(offset: int, count: int) -> None:
            for _ in range(offset, count, tasks):
                await inserts(hold_row(req))

        await asyncio.gather(*(caller(t, 500) for t in range(tasks)))  # warm
        start = time.perf_counter()
        await asyncio.gather(*(caller(t, n) for t in range(tasks)))
        elapsed = time.perf_counter() - start
        await connections.close()
        return n / elapsed

    try:
        return asyncio.run(timed())
    finally:
        runtime.close()


def bare_insert(runtime: Runtime, n: int) -> float:
    """The floor of any durable authorization: one ``holds`` row inserted and committed per
    call, by one caller on the raw driver of the same database (same settings, no logic,
    no reads): sqlite3 ``BEGIN IMMEDIATE``/``INSERT``/``COMMIT``, psycopg autocommit."""
    store = runtime.ledger.store
    proxied = store.engines.write.raw_connection()
    dbapi: Any = proxied.driver_connection
    postgres = store.is_postgres
    if postgres:
        dbapi.autocommit = True
    sql = hot._sql(hot._INSERT_HOLD, postgres)
    row = dict.fromkeys(hot.HOLD_COLUMNS) | {"agent_id": "inproc-0", "amount": 100, "status": "open"}
    row |= {"created_at": 0, "expires_at": 0}
    start = time.perf_counter()
    for i in range(n):
        row["id"] = f"bare_{i:012d}"
        if postgres:
            dbapi.execute(sql, row)
        else:
            dbapi.execute("BEGIN IMMEDIATE")
            dbapi.execute(sql, row)
            dbapi.execute("COMMIT")
    elapsed = time.perf_counter() - start
    proxied.close()
    return n / elapsed


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Environment variables for the server processes started inside."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def authorize_rps(backend: str, seconds: int, **environ: str) -> float:
    """wrk's authorizations/s against a fresh server started with ``environ`` (the A/B runs)."""
    with _environ(**environ), database(backend) as url, server(url, ADMIN) as base:
        keys = create_agents(base, AGENTS)
        wrk(base, "/v1/authorize", keys, 2)  # warm up
        return wrk(base, "/v1/authorize", keys, seconds)


def run(backend: str, seconds: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for threads in (1, INPROC_THREADS):
        with database(backend) as url:
            results[f"inproc_{threads}"] = in_process(url, threads, bare=results if threads == 1 else None)
    for sdk in (False, True):
        with database(backend) as url:
            results[f"inproc_loop{'_sdk' if sdk else ''}"] = in_process_on_loop(url, INPROC_THREADS, sdk=sdk)
        if backend == "postgres" and not sdk:  # the floor: the same rows, only inserted
            with database(backend) as url:
                results["insert_loop"] = bare_insert_on_loop(url, INPROC_THREADS)
        if backend == "postgres":  # the locked path, four round trips, in the same run
            with database(backend) as url:
                results[f"inproc_locked_{threads}"] = in_process(url, threads, in_database=False)
    if backend == "postgres":  # and every authorization its own call and commit
        with database(backend) as url:
            results["inproc_unbatched"] = in_process(url, INPROC_THREADS, batch_size=1)
        results["unbatched_rps"] = authorize_rps(backend, seconds, SPENDWARDEN_AUTHORIZE_BATCH_SIZE="1")
    if backend == "sqlite":  # every authorization its own commit, not one per loop iteration
        results["unshared_rps"] = authorize_rps(backend, seconds, SPENDWARDEN_SQLITE_LOOP_COMMIT="false")
    with database(backend) as url, server(url, ADMIN) as base:
        keys = create_agents(base, AGENTS)
        wrk(base, "/v1/authorize", keys, 2)  # warm up
        results["noop_rps"] = wrk(base, "/bench/noop", keys, seconds)
        before = httpx.get(f"{base}/bench/batches").json()
        results["authorize_rps"] = wrk(base, "/v1/authorize", keys, seconds)
        after = httpx.get(f"{base}/bench/batches").json()
        # The floor of any durable authorization here: the no-op plus the hold row's INSERT
        # and its (shared) commit, nothing of ours (``bench/_server.py``).
        wrk(base, "/bench/insert", keys, 2)  # warm up
        results["insert_rps"] = wrk(base, "/bench/insert", keys, seconds)
        results["per_batch"] = (after["batched"] - before["batched"]) / max(
            1, after["batches"] - before["batches"]
        )
        half = results["noop_rps"] / 2
        lat = paced_latency(base, "/v1/authorize", keys, half, seconds)
        results["half_rate"] = half
        results["half_p50_ms"] = percentile(lat, 50) * 1000
        results["half_p99_ms"] = percentile(lat, 99) * 1000
        paced = wrk_paced(base, "/v1/authorize", keys, half, seconds)
        results["wrk_half_p50_ms"], results["wrk_half_p99_ms"], results["wrk_half_rate"] = paced
        # The machine's floor at that load: the no-op paced the same way, in the same run.
        paced = wrk_paced(base, "/bench/noop", keys, half, seconds)
        results["noop_half_p50_ms"], results["noop_half_p99_ms"], results["noop_half_rate"] = paced
        paced = wrk_paced(base, "/bench/insert", keys, half, seconds)
        results["insert_half_p50_ms"], results["insert_half_p99_ms"], results["insert_half_rate"] = paced
        own = results["authorize_rps"] / 2
        lat = paced_latency(base, "/v1/authorize", keys, own, seconds)
        results["own_half_rate"] = own
        results["own_half_p50_ms"] = percentile(lat, 50) * 1000
        results["own_half_p99_ms"] = percentile(lat, 99) * 1000
        seq = sequential_latency(base, "/v1/authorize", keys)
        results["seq_p50_ms"] = percentile(seq, 50) * 1000
        results["seq_p99_ms"] = percentile(seq, 99) * 1000
        seq = sequential_latency(base, "/bench/insert", keys)
        results["insert_seq_p50_ms"] = percentile(seq, 50) * 1000
        seq = sequential_latency(base, "/bench/noop", keys)
        results["noop_seq_p50_ms"] = percentile(seq, 50) * 1000
    results["ratio"] = results["authorize_rps"] / results["noop_rps"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--locked-path",
        action="store_true",
        help="PostgreSQL: serve every authorization on the locked path (authorize_in_database=false)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["normal", "full"],
        help="SQLite: the sqlite_synchronous setting (default: the server's, normal)",
    )
    args = parser.parse_args()
    if args.sqlite_synchronous:  # read by the server process and the in-process runtime alike
        os.environ["SPENDWARDEN_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    if args.locked_path:
        os.environ["SPENDWARDEN_AUTHORIZE_IN_DATABASE"] = "false"  # the server process reads it
    print(f"machine: {machine()}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        r = run(backend, args.seconds)
        rows.append((backend, r))
    header = (
        "backend",
        "no-op req/s",
        "authorize req/s",
        "ratio (≥0.5)",
        "p50/p99 ms at half no-op rate (p99≤10), 16 Python clients, open loop",
        f"same, wrk paced ({PACED_CONNECTIONS} connections)",
        "p50/p99 ms at half its own max rate",
        "1 client p50/p99 ms (p50≤1)",
        "in-process /s, 1 caller",
        f"in-process /s, {INPROC_THREADS} threads",
        f"in-process /s, {INPROC_THREADS} asyncio tasks (≥10,000); through AsyncClient",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for backend, r in rows:
        print(
            f"| {backend} | {r['noop_rps']:,.0f} | {r['authorize_rps']:,.0f} | {r['ratio']:.2f} | "
            f"{r['half_p50_ms']:.2f} / {r['half_p99_ms']:.2f} (at {r['half_rate']:,.0f}/s) | "
            f"{r['wrk_half_p50_ms']:.2f} / {r['wrk_half_p99_ms']:.2f} (at {r['wrk_half_rate']:,.0f}/s) | "
            f"{r['own_half_p50_ms']:.2f} / {r['own_half_p99_ms']:.2f} (at {r['own_half_rate']:,.0f}/s) | "
            f"{r['seq_p50_ms']:.2f} / {r['seq_p99_ms']:.2f} | {r['inproc_1']:,.0f} | "
            f"{r[f'inproc_{INPROC_THREADS}']:,.0f} | {r['inproc_loop']:,.0f}; {r['inproc_loop_sdk']:,.0f} |"
        )
    for backend, r in rows:
        print(
            f"\n{backend}, wrk paced at half the no-op rate, same run: authorize p50/p99 "
            f"{r['wrk_half_p50_ms']:.2f} / {r['wrk_half_p99_ms']:.2f} ms (at {r['wrk_half_rate']:,.0f}/s), "
            f"the no-op itself {r['noop_half_p50_ms']:.2f} / {r['noop_half_p99_ms']:.2f} ms "
            f"(at {r['noop_half_rate']:,.0f}/s): the stack's and the machine's own share; a bare durable "
            f"INSERT of the hold row {r['insert_half_p50_ms']:.2f} / {r['insert_half_p99_ms']:.2f} ms "
            f"(at {r['insert_half_rate']:,.0f}/s)"
        )
    for backend, r in rows:
        print(
            f"\n{backend}, against a bare durable INSERT of the hold row over HTTP (POST /bench/insert: "
            f"the no-op's work, the INSERT and a shared commit), same run: {r['insert_rps']:,.0f} req/s, "
            f"{r['insert_rps'] / r['noop_rps']:.2f} of the no-op; authorize {r['authorize_rps'] / r['insert_rps']:.2f} "
            f"of it; one client in sequence, p50: authorize {r['seq_p50_ms']:.2f} ms, the INSERT "
            f"{r['insert_seq_p50_ms']:.2f} ms, the no-op {r['noop_seq_p50_ms']:.2f} ms"
        )
    for backend, r in rows:
        print(f"\n{backend}, authorizations per batch under wrk: {r['per_batch']:.1f}")
    for backend, r in rows:
        print(
            f"\n{backend}, in process, 1 caller against a bare INSERT + COMMIT of the hold row on the raw "
            f"driver, same run: {r['inproc_1']:,.0f}/s vs {r['bare_insert']:,.0f}/s, "
            f"ratio {r['inproc_1'] / r['bare_insert']:.2f}"
        )
    for backend, r in rows:
        if "unbatched_rps" in r:
            print(
                f"\n{backend}, concurrent authorizations sharing a call and a commit (authorize_batch_size "
                f"default) against each its own (authorize_batch_size=1), same run: over HTTP "
                f"{r['authorize_rps']:,.0f} vs {r['unbatched_rps']:,.0f} req/s "
                f"({r['authorize_rps'] / r['unbatched_rps']:.2f}x); in process, {INPROC_THREADS} callers "
                f"{r[f'inproc_{INPROC_THREADS}']:,.0f} vs {r['inproc_unbatched']:,.0f}/s "
                f"({r[f'inproc_{INPROC_THREADS}'] / r['inproc_unbatched']:.2f}x)"
            )
    for backend, r in rows:
        if "unshared_rps" in r:
            print(
                f"\n{backend}, the authorizations of one event-loop iteration sharing a commit "
                f"(sqlite_loop_commit default) against each its own (sqlite_loop_commit=false), same "
                f"run: over HTTP {r['authorize_rps']:,.0f} vs {r['unshared_rps']:,.0f} req/s "
                f"({r['authorize_rps'] / r['unshared_rps']:.2f}x)"
            )
    for backend, r in rows:
        if "insert_loop" in r:
            print(
                f"\n{backend}, in process, {INPROC_THREADS} asyncio tasks against a bare INSERT of the same "
                f"hold rows through the same batcher and connections (no lock, no read, no cap), same "
                f"run: {r['inproc_loop']:,.0f}/s vs {r['insert_loop']:,.0f}/s, ratio "
                f"{r['inproc_loop'] / r['insert_loop']:.2f}"
            )
    for backend, r in rows:
        if "inproc_locked_1" in r:
            print(
                f"\n{backend}, in process on the locked path (authorize_in_database=false), same run: "
                f"{r['inproc_locked_1']:,.0f}/s with 1 caller, "
                f"{r[f'inproc_locked_{INPROC_THREADS}']:,.0f}/s with {INPROC_THREADS}"
            )


if __name__ == "__main__":
    main()
