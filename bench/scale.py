"""Scale benchmark (DESIGN.md §7, issue 8 item 5): 400,000 agents and millions of events on
PostgreSQL. Measures, in one run, authorize latency in process and over HTTP for random
agents among the many versus a 100-agent database, the server's RSS, bulk ingest through
the real endpoint, and analytics query times. Figures go to stdout and a JSON file.

    python bench/scale.py --agents 400000 --events 10000000   # ~25 min on 2 cores
    python bench/scale.py --agents 2000 --events 50000        # smoke run

Databases ``sw_scale_big`` and ``sw_scale_small`` are created and dropped (``--keep`` keeps
the big one). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_load as load  # type: ignore[import-not-found]  # run as a script, beside it

from spendwarden.clock import SystemClock, iso, to_us
from spendwarden.config import Settings
from spendwarden.db.migrate import upgrade
from spendwarden.db.store import Store
from spendwarden.db.warm import warm
from spendwarden.ledger.retention import prune_counters
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import build_runtime

PG = os.environ.get("SPENDWARDEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
ADMIN = "bench-admin-token-0123456789abcdef"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pg_admin(sql: str) -> None:
    with psycopg.connect(f"{PG}/test", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


# What shapes writes at scale: checkpoints forced by WAL volume (``max_wal_size``) write
# every page again in full on its next change; compression shrinks those images.
PG_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression")


def pg_state() -> dict[str, Any]:
    """The server's write settings and its checkpoint counters so far."""
    with psycopg.connect(f"{PG}/test", autocommit=True) as conn:
        settings = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(PG_SETTINGS)],
        ).fetchall()
        timed, requested = conn.execute(
            "SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone() or (0, 0)
    return {**dict(settings), "checkpoints_timed": timed, "checkpoints_requested": requested}


def fresh_db(name: str) -> str:
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name}")
    url = f"{PG}/{name}"
    upgrade(url)
    return url


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 3), "p99_ms": round(pct(ms, 99), 3),
            "mean_ms": round(statistics.fmean(ms), 3)}  # fmt: skip


def authorize_in_process(
    cases: dict[str, tuple[str, int]], n: int, rounds: int = 10, seed: int = 1
) -> dict[str, Any]:
    """``Ledger.authorize`` for a random agent each call, the cases interleaved in ``rounds``
    blocks so that whatever the machine does meanwhile (another process, the OS writing
    back) falls on every case alike: the ratio is of the databases, not of the minute.
    Then each case's agents once more, in the same order (``<case>_again``)."""
    req = AuthorizeRequest(amount=1000, vendor="openai", rail="llm_api", model="gpt-4.1-mini")
    runtimes = {
        name: build_runtime(Settings(database_url=url, admin_token=ADMIN, db_pool_size=4), migrate=False)
        for name, (url, _n) in cases.items()
    }
    rngs = {name: random.Random(seed) for name in cases}
    samples: dict[str, list[float]] = {key: [] for name in cases for key in (name, f"{name}_again")}
    asked: dict[str, list[str]] = {name: [] for name in cases}
    try:
        for name, runtime in runtimes.items():  # warm each pool and the code paths
            for _ in range(200):
                runtime.ledger.authorize(load.agent_id(rngs[name].randrange(cases[name][1])), req)
        per_round = max(1, n // rounds)
        for _ in range(rounds):
            for name, runtime in runtimes.items():
                n_agents = cases[name][1]
                for _ in range(per_round):
                    aid = load.agent_id(rngs[name].randrange(n_agents))
                    t0 = time.perf_counter()
                    runtime.ledger.authorize(aid, req)
                    samples[name].append(time.perf_counter() - t0)
                    asked[name].append(aid)
        # The same agents again: now seen (their configuration known, their pages read),
        # which tells the cost of an agent never seen from the cost of the fleet's size.
        for name, runtime in runtimes.items():
            for aid in asked[name]:
                t0 = time.perf_counter()
                runtime.ledger.authorize(aid, req)
                samples[f"{name}_again"].append(time.perf_counter() - t0)
    finally:
        for runtime in runtimes.values():
            runtime.close()
    return {name: summary_ms(values) for name, values in samples.items()}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Serve:
    def __init__(self, url: str, port: int, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "SPENDWARDEN_DATABASE_URL": url, "SPENDWARDEN_ADMIN_TOKEN": ADMIN, **(env or {})}
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spendwarden.cli", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(300):
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        return _rss_mb(self.proc.pid)

    def worker_rss_mb(self) -> float:
        """The RSS of the server's child processes (its ``spendwarden worker``), 0 without."""
        total = 0.0
        for entry in Path("/proc").iterdir():
            try:
                if (
                    entry.name.isdigit()
                    and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid
                ):
                    total += _rss_mb(int(entry.name))
            except OSError:
                continue
        return total

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:  # seen once at 400k agents: note it, do not lose the figures
            log("  server did not stop within 60 s of SIGTERM; killed")
            self.proc.kill()
            self.proc.wait(10)


BODY = {"amount_usd": "0.001", "vendor": "openai", "model": "gpt-4.1-mini"}
WARM = 200  # requests before the timing, per case


def _timed_authorize(client: httpx.Client, rng: random.Random, n_agents: int) -> float:
    """One ``POST /v1/authorize`` for a random agent's key: seconds, from send to answer."""
    key = load.agent_key(rng.randrange(n_agents))
    t0 = time.perf_counter()
    r = client.post("/v1/authorize", json=BODY, headers={"Authorization": f"Bearer {key}"})
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise RuntimeError(f"authorize failed: {r.status_code} {r.text}")
    return elapsed


def authorize_http(server: Serve, n_agents: int, n: int) -> dict[str, float]:
    """One sequential client, a random agent's key each call."""
    return authorize_http_interleaved({"one": (server, n_agents)}, n, seed=2, rounds=1)["one"]


def authorize_http_interleaved(
    servers: dict[str, tuple[Serve, int]], n: int, seed: int, rounds: int = 10
) -> dict[str, dict[str, float]]:
    """``authorize_http`` against every case's server, in ``rounds`` interleaved blocks, as
    ``authorize_in_process`` does: both servers up, each idle while the other is timed, so
    whatever the machine does meanwhile falls on every case alike. ``seed`` 2 asks the
    agents ``authorize_http`` asked first (their keys known to the server), another seed
    mostly agents not asked before (among 100, every agent is known by then)."""
    rngs = {name: random.Random(seed) for name in servers}
    clients = {name: httpx.Client(base_url=srv.base, timeout=30) for name, (srv, _n) in servers.items()}
    samples: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for name, (_srv, n_agents) in servers.items():
            for _ in range(WARM):
                _timed_authorize(clients[name], rngs[name], n_agents)
        per_round = max(1, n // rounds)
        for _ in range(rounds):
            for name, (_srv, n_agents) in servers.items():
                samples[name] += [
                    _timed_authorize(clients[name], rngs[name], n_agents) for _ in range(per_round)
                ]
    finally:
        for client in clients.values():
            client.close()
    return {name: summary_ms(values) for name, values in samples.items()}


def ingest_recent(server: Serve, n_agents: int, n_events: int, batch: int = 5000) -> dict[str, float]:
    """Recent events through the real ``/v1/ingest/events`` path (rollups, detectors)."""
    rng = random.Random(3)
    now = time.time()
    tag = int(now)  # a re-measured (--reuse) database gets new events, not duplicates
    headers = {"Authorization": f"Bearer {ADMIN}"}
    t0, accepted = time.perf_counter(), 0
    with httpx.Client(base_url=server.base, timeout=600) as client:
        for start in range(0, n_events, batch):
            events = [
                {"agent_id": load.agent_id(rng.randrange(n_agents)), "amount_usd": "0.0042",
                 "vendor": rng.choice(load.VENDORS), "model": "gpt-4.1-mini", "tool": "search",
                 "external_id": f"recent-{tag}-{start + i}",
                 "occurred_at": iso(to_us(SystemClock().now()) - rng.randrange(int(20 * 3600e6)))}
                for i in range(min(batch, n_events - start))
            ]  # fmt: skip
            r = client.post("/v1/ingest/events", json=events, headers=headers)
            if r.status_code == 404:
                return {"skipped": 1}
            r.raise_for_status()
            accepted += r.json()["accepted"]
    elapsed = time.perf_counter() - t0
    del now
    return {"accepted": accepted, "seconds": round(elapsed, 2), "events_per_s": round(accepted / elapsed)}


ANALYTICS = {
    # What the dashboard asks for on load (web/static/js: analytics.js, data.js) ...
    "dashboard_summary_24h_by_rail": "/v1/analytics/summary?window=24h&group_by=rail",
    "timeseries_24h_hour": "/v1/analytics/timeseries?window=24h&bucket=hour&dimension=vendor",
    "forecast": "/v1/analytics/forecast",
    "agent_profile": "/v1/analytics/agents/{agent}",
    "agents_page_500": "/v1/agents?limit=500",
    # Not "/v1/transactions?since=…&limit=1000": newest first by id, and the loader's ids
    # ("txn_s…") sort after every real ULID, so the scan walks all loaded history first (a
    # loader artifact: real ids grow with time; see docs/SCALE.md).
    # ... and the API's heaviest summary: one row per agent active in the window.
    "summary_24h_by_agent": "/v1/analytics/summary?window=24h&group_by=agent,model,vendor,rail,tool",
    "agents_page": "/v1/agents?limit=50",
}


def analytics_times(server: Serve, n_agents: int, runs: int = 15) -> dict[str, Any]:
    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=server.base, timeout=120) as client:
        for name, path in ANALYTICS.items():
            samples, status = [], 0
            for i in range(runs):
                since = iso(to_us(SystemClock().now()) - 86_400_000_000)
                url = path.format(agent=load.agent_id((i * 7919) % n_agents), since=since)
                t0 = time.perf_counter()
                status = client.get(url, headers=headers).status_code
                samples.append(time.perf_counter() - t0)
            out[name] = {"status": status, **summary_ms(samples)}
    return out


def table_sizes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC LIMIT 8"
        ).fetchall()
        rows.append(
            (
                "database",
                conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0],  # type: ignore[index]
            )
        )
    return {str(a): str(b) for a, b in rows}


def warm_db(url: str) -> dict[str, float]:
    """``spendwarden warm`` (db/warm.py): what an operator runs after a restore or a failover."""
    store = Store(url, pool_size=1)
    try:
        done = warm(store)
        return {
            "mb": round(sum(w.megabytes for w in done)),
            "seconds": round(sum(w.seconds for w in done), 1),
        }
    finally:
        store.dispose()


def prune_pass(url: str) -> dict[str, float]:
    """Time one whole pass of ``ledger/retention.prune_counters`` (what the server's hourly
    job does in slices): with the default load it finds what crossed the horizon since;
    with ``--all-counters`` it is the first prune of a fleet's whole history."""
    store = Store(url, pool_size=1)
    try:
        t0 = time.perf_counter()
        _end, deleted = prune_counters(store, to_us(SystemClock().now()), Settings().counter_retention_days)
        return {"seconds": round(time.perf_counter() - t0, 1), "deleted": deleted}
    finally:
        store.dispose()


def settle_after_load(url: str) -> None:
    """Statistics for the planner and a checkpoint, for both cases alike: the measurement is
    of the database in service, not of the bulk load's dirty pages being written back."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def settle_rollups(url: str, timeout: float = 120) -> float:
    """Wait until the server has folded the ingest's fleet journal, then ANALYZE the rollup
    tables (autovacuum does within a minute in service; the ingest created them just now).
    A dashboard is read in steady state, not in the second after a 20,000-event burst."""
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() - t0 < timeout:
            row = conn.execute("SELECT count(*) FROM rollup_journal").fetchone()
            if row is None or row[0] == 0:
                break
            time.sleep(0.5)
        for table in (
            "rollups",
            "rollups_users",
            "rollups_tasks",
            "rollup_journal",
            "fleet_rollups",
            "fleet_spans",
        ):
            conn.execute(f"ANALYZE {table}")  # type: ignore[arg-type]
    return round(time.perf_counter() - t0, 1)


def existing_counts(url: str) -> dict[str, int]:
    """What a kept database holds (estimates from the planner's statistics: exact counts of
    50 M rows take minutes)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN ('agents', 'transactions')"
        ).fetchall()
    return {str(name): int(n) for name, n in rows}


def measure(url: str, n_agents: int, args: argparse.Namespace, port: int) -> tuple[dict[str, Any], Serve]:
    """One case on its own server: ingest a burst, time authorizations right after it, then
    the analytics once the burst is folded. The server is left running (the caller times
    the cases again, interleaved, and closes it)."""
    res: dict[str, Any] = {"agents": n_agents}
    server = Serve(url, port, {"SPENDWARDEN_WORKER_PROCESS": "false" if args.worker_threads else "true"})
    try:
        res["rss_mb_idle"] = round(server.rss_mb(), 1)
        # Recent traffic first: authorizations are then timed while the detectors hold state
        # for every agent active in the last day (what the signals tick works through),
        # not against a fleet that has been silent since its history was loaded.
        if args.ingest:
            res["ingest_http"] = ingest_recent(server, n_agents, args.ingest)
            log(f"  ingest: {res['ingest_http']}")
        res["authorize_http"] = authorize_http(server, n_agents, args.samples)
        log(f"  HTTP authorize: {res['authorize_http']}")
        res["rss_mb_after_authorize"] = round(server.rss_mb(), 1)
        res["analytics_settle_s"] = settle_rollups(url)
        res["analytics"] = analytics_times(server, n_agents)
        log(f"  analytics: {json.dumps(res['analytics'])}")
    except BaseException:
        server.close()
        raise
    return res, server


def measure_settled(cases: dict[str, tuple[dict[str, Any], Serve, int]], samples: int) -> None:
    """Every case again once its burst is digested (journal folded, statistics fresh),
    interleaved: first the agents asked right after the burst, then agents not asked before
    (``_new``: a key's first sight costs a lookup). Right after the burst the worker folds
    100,000 events' cells and ticks the agents they woke, which on two cores moved the tail
    from 0.91x to 1.95x between two runs; and timed one case after the other, the 100-agent
    case's own p99 swung 1.7-6.2 ms between runs of the same code. Closes the servers."""
    servers = {name: (srv, n) for name, (_r, srv, n) in cases.items()}
    try:
        for mode, seed in (("authorize_http_settled", 2), ("authorize_http_settled_new", 3)):
            timed = authorize_http_interleaved(servers, samples, seed)
            for name, (res, _server, _n) in cases.items():
                res[mode] = timed[name]
            log(f"  {mode} (interleaved): {timed}")
        for res, server, _n in cases.values():
            res["rss_mb_end"] = round(server.rss_mb(), 1)
            res["worker_rss_mb_end"] = round(server.worker_rss_mb(), 1)
    finally:
        for _res, server, _n in cases.values():
            server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=400_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--samples", type=int, default=3000, help="authorizations timed per case")
    ap.add_argument("--ingest", type=int, default=200_000, help="recent events through /v1/ingest/events")
    ap.add_argument("--out", default="bench/scale-results.json")
    ap.add_argument("--keep", action="store_true", help="keep the big database")
    ap.add_argument("--workers", type=int, default=2, help="processes building and copying history")
    ap.add_argument(
        "--worker-threads", action="store_true",
        help="servers run their periodic work in their own threads (SPENDWARDEN_WORKER_PROCESS=false)",
    )  # fmt: skip
    ap.add_argument(
        "--all-counters", action="store_true",
        help="load the counters of every past window (as before counter retention); by default "
        "only those the server's hourly prune keeps",
    )  # fmt: skip
    ap.add_argument(
        "--reuse", action="store_true",
        help="measure the big database a --keep run left (skips its load; implies --keep)",
    )  # fmt: skip
    args = ap.parse_args()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "worker_threads": args.worker_threads,
        "postgres_before": pg_state(),
    }  # fmt: skip
    now_us = to_us(SystemClock().now())
    retention = None if args.all_counters else Settings().counter_retention_days
    results["counter_retention_days"] = retention
    try:
        log("small case: 100 agents")
        small = fresh_db("sw_scale_small")
        load.load_agents(small, 100, now_us)
        load.load_events(
            small, 100, 100 * (args.events // max(args.agents, 1)), now_us, progress=log,
            counter_retention_days=retention,
        )  # fmt: skip
        settle_after_load(small)
        log(f"big case: {args.agents:,} agents, {args.events:,} events")
        if args.reuse:
            big = f"{PG}/sw_scale_big"
            results["reused"] = existing_counts(big)
            log(f"  reusing sw_scale_big: {results['reused']}")
        else:
            big = fresh_db("sw_scale_big")
            results["load_agents_per_s"] = round(load.load_agents(big, args.agents, now_us))
            log(f"  agents loaded: {results['load_agents_per_s']:,}/s")
            results["load_events"] = load.load_events(
                big, args.agents, args.events, now_us, progress=log, workers=args.workers,
                counter_retention_days=retention,
            )  # fmt: skip
            settle_after_load(big)
        log("in-process authorize, the two cases interleaved")
        in_process = authorize_in_process({"small": (small, 100), "big": (big, args.agents)}, args.samples)
        log(f"  {in_process}")
        log("spendwarden warm on both databases, then in process again, agents never asked")
        results["warm"] = {case: warm_db(url) for case, url in (("small", small), ("big", big))}
        log(f"  {results['warm']}")
        warmed = authorize_in_process(
            {"small": (small, 100), "big": (big, args.agents)}, args.samples, seed=2
        )
        log(f"  {warmed}")
        log("small case over HTTP: 100 agents")
        results["small"], small_server = measure(small, 100, args, 18601)
        log("big case over HTTP")
        try:
            results["big"], big_server = measure(big, args.agents, args, 18602)
        except BaseException:
            small_server.close()
            raise
        log("both cases over HTTP, burst digested, interleaved")
        measure_settled(
            {
                "small": (results["small"], small_server, 100),
                "big": (results["big"], big_server, args.agents),
            },
            args.samples,
        )
        for case, url in (("small", small), ("big", big)):
            results[case]["sizes"] = table_sizes(url)
        log("one pass of the counter prune over the big database (a server runs one an hour)")
        results["counter_prune_pass"] = prune_pass(big)
        log(f"  {results['counter_prune_pass']}")
        for case in ("small", "big"):
            results[case]["authorize_in_process"] = in_process[case]
            results[case]["authorize_in_process_again"] = in_process[f"{case}_again"]
            results[case]["authorize_in_process_warmed"] = warmed[case]
        for mode in (
            "authorize_in_process",
            "authorize_in_process_again",
            "authorize_in_process_warmed",
            "authorize_http",
            "authorize_http_settled",
            "authorize_http_settled_new",
        ):
            results[f"{mode}_p99_ratio"] = round(
                results["big"][mode]["p99_ms"] / results["small"][mode]["p99_ms"], 2
            )
            results[f"{mode}_p50_ratio"] = round(
                results["big"][mode]["p50_ms"] / results["small"][mode]["p50_ms"], 2
            )
    finally:
        results["postgres_after"] = pg_state()
        Path(args.out).write_text(json.dumps(results, indent=2))
        log(json.dumps(results, indent=2))
        pg_admin("DROP DATABASE IF EXISTS sw_scale_small WITH (FORCE)")
        if not (args.keep or args.reuse):
            pg_admin("DROP DATABASE IF EXISTS sw_scale_big WITH (FORCE)")


if __name__ == "__main__":
    main()
