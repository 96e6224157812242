"""Analytics query benchmark: rollups vs GROUP BY over raw rows vs a Python scan.

Loads N synthetic spend events (default 1,000,000 then 10,000,000; 1,000 agents over 90
days) through the real bulk write path (``ledger.bulk.record_batch``, with the rollup
observer inside every agent transaction), folds the fleet journal, drops minute rollups
older than the retention (steady state), then times in one run:

* the summary (fleet 24 h and 30 d with every breakdown and top users; one owner 7 d),
  the hourly timeseries per model over 7 d, one agent's profile and the fleet forecast,
  each read from rollups (median of several runs);
* the same summary computed by plain ``GROUP BY`` queries over the raw ledger rows;
* the same summary by scanning the raw rows in Python.

Not a test: ``python bench/query.py --events 200000`` for a quick run,
``nohup python bench/query.py > /tmp/query-bench.log 2>&1 &`` for the full one,
``--database postgresql://…`` for PostgreSQL (a fresh database is created per size).
``--record`` appends the results to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, text

from spendwarden.analytics import forecast, profile, summary, windows
from spendwarden.analytics.fold import fold_journal
from spendwarden.analytics.reader import Scope
from spendwarden.analytics.rollup import RollupObserver
from spendwarden.clock import FrozenClock, to_us
from spendwarden.config import Settings
from spendwarden.db import queries_analytics as qa
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import upgrade
from spendwarden.db.store import Store
from spendwarden.db.tables.core import agents, transactions
from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.bulk import record_batch
from spendwarden.ledger.record import counter_delta
from spendwarden.ledger.service import Ledger
from spendwarden.money import format_amount

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.0-flash"),
    ("openai", "o3"),
]
TOOLS = [f"tool-{i}" for i in range(10)]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


# --- data ---------------------------------------------------------------------------------


def events_for_day(day: int, per_agent_day: float, n_agents: int, rnd: random.Random) -> list[SpendEvent]:
    """One day of events for every agent: each agent has 2 models, 3 tools, 5 users."""
    start = END - timedelta(days=day + 1)
    out = []
    for a in range(n_agents):
        n = int(per_agent_day) + (1 if rnd.random() < per_agent_day % 1 else 0)
        for i in range(n):
            vendor, model = MODELS[(a + i % 2 * 3) % len(MODELS)]
            status = "settled" if rnd.random() < 0.97 else rnd.choice(["failed", "refunded"])
            out.append(
                SpendEvent(
                    agent_id=f"agent-{a:04d}",
                    amount=rnd.randrange(100, 200_000),
                    rail="x402" if a % 10 == 0 and i % 3 == 0 else "llm_api",
                    vendor=vendor,
                    model=model,
                    tool=TOOLS[(a + i % 3) % len(TOOLS)],
                    usage=TokenUsage(input=rnd.randrange(100, 5000), output=rnd.randrange(10, 800)),
                    status=status,
                    attempt=2 if rnd.random() < 0.05 else 1,
                    user_id=f"user-{(a * 5 + i % 5) % 2000}",
                    task_id=f"task-{day}-{a}-{i // 20}",
                    occurred_at=start + timedelta(seconds=rnd.randrange(0, 86_400)),
                )
            )
    out.sort(key=lambda e: e.occurred_at or END)
    return out


def load(url: str, n_events: int, n_agents: int, days: int) -> dict[str, Any]:
    upgrade(url)
    store = Store(url)
    settings = Settings(database_url=url, admin_token="x" * 32)
    ledger = Ledger(store, settings, FrozenClock(END))
    ledger.core.observers.append(
        RollupObserver(settings.analytics_minute_retention_days)
    )  # the analytics observer, alone: no detectors
    for a in range(n_agents):
        ledger.create_agent(AgentSpec(id=f"agent-{a:04d}", owner=f"client-{a % 50}", tier="custom"), "bench")
    rnd = random.Random(42)
    per_agent_day = n_events / n_agents / days
    started, loaded = time.perf_counter(), 0
    # Several days per bulk call, so each agent transaction carries ~200+ rows (a file import);
    # one day at a time would measure per-transaction overhead, not the path.
    span = max(1, min(30, round(250 / per_agent_day)))
    for first in reversed(range(0, days, span)):
        days_in = reversed(range(first, min(first + span, days)))
        batch = [e for day in days_in for e in events_for_day(day, per_agent_day, n_agents, rnd)]
        result = record_batch(ledger.core, batch)
        loaded += len(result.accepted)
        rate = loaded / (time.perf_counter() - started)
        print(f"  day -{first}: {loaded:,} events, {rate:,.0f}/s", flush=True)
    load_s = time.perf_counter() - started
    t = time.perf_counter()
    retention_us = settings.analytics_minute_retention_days * 86_400_000_000
    folded = fold_journal(store, batch=50_000, minutes_from=to_us(END) - retention_us)  # as the sweeper does
    fold_s = time.perf_counter() - t
    with store.write() as conn:
        qa.delete_minute_rollups(conn, to_us(END) - settings.analytics_minute_retention_days * 86_400_000_000)
    if store.is_postgres:
        with store.engines.write.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {
        "store": store,
        "settings": settings,
        "events": loaded,
        "load_s": load_s,
        "fold_rows": folded,
        "fold_s": fold_s,
    }


def reuse(url: str) -> dict[str, Any]:
    upgrade(url)
    store = Store(url)
    with store.read() as conn:
        events = int(conn.execute(select(func.count()).select_from(transactions)).scalar_one())
    settings = Settings(database_url=url, admin_token="x" * 32)
    return {
        "store": store,
        "settings": settings,
        "events": events,
        "load_s": math.nan,
        "fold_rows": 0,
        "fold_s": math.nan,
    }


# --- timing -------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median wall and CPU time (this process: Python and SQLite, not a PostgreSQL server) in ms
    over ``repeat`` runs after one warm-up, and the last result. On a shared machine the CPU
    time says what the query costs; the wall time adds waiting for a core."""
    result = fn()
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(times), statistics.median(cpu), result


def raw_groupby_summary(store: Store, w: windows.Window) -> dict[str, Any]:
    """The summary the plain way: one GROUP BY per dimension over the raw ledger rows."""
    t = transactions
    net = case((t.c.status == "settled", t.c.amount), (t.c.status == "refunded", -t.c.amount), else_=0)
    inside = (t.c.occurred_at >= w.start_us, t.c.occurred_at < w.end_us)
    out: dict[str, Any] = {}
    with store.read() as conn:
        out["total"] = tuple(conn.execute(select(func.sum(net), func.count()).where(*inside)).one())
        for dim in ("agent_id", "model", "vendor", "rail", "tool", "user_id"):
            stmt = select(t.c[dim], func.sum(net), func.count()).where(*inside).group_by(t.c[dim])
            out[dim] = {r[0]: int(r[1]) for r in conn.execute(stmt)}
        stmt = (
            select(agents.c.owner, func.sum(net), func.count())
            .select_from(t.join(agents, agents.c.id == t.c.agent_id))
            .where(*inside)
            .group_by(agents.c.owner)
        )
        out["owner"] = {r[0]: int(r[1]) for r in conn.execute(stmt)}
    return out


def python_scan_summary(store: Store, w: windows.Window) -> dict[str, Any]:
    """The naive way: read every raw row of the window and add it up in Python."""
    cols = [
        transactions.c[c]
        for c in ("agent_id", "model", "vendor", "rail", "tool", "user_id", "status", "amount")
    ]
    stmt = select(*cols).where(
        transactions.c.occurred_at >= w.start_us, transactions.c.occurred_at < w.end_us
    )
    sums: dict[str, dict[Any, int]] = {
        d: {} for d in ("agent_id", "model", "vendor", "rail", "tool", "user_id")
    }
    total = count = 0
    with store.read() as conn:
        for agent, model, vendor, rail, tool, user, status, amount in conn.execute(
            stmt.execution_options(yield_per=20000)
        ):
            delta = counter_delta(status, amount)
            total += delta
            count += 1
            for d, k in (
                ("agent_id", agent),
                ("model", model),
                ("vendor", vendor),
                ("rail", rail),
                ("tool", tool),
                ("user_id", user),
            ):
                sums[d][k] = sums[d].get(k, 0) + delta
    return {"total": (total, count), **sums}


def run_queries(
    store: Store, settings: Settings, repeat: int, baselines: bool = True
) -> list[dict[str, Any]]:
    now = END
    w24 = windows.resolve(now, "24h", None, None)
    w30 = windows.resolve(now, "30d", None, None)
    w7 = windows.resolve(now, "7d", None, None)
    groups = list(summary.DEFAULT_GROUP_BY)
    rows = []

    def add(name: str, fn: Callable[[], Any], rep: int = repeat) -> Any:
        ms, cpu, result = timed(fn, rep)
        rows.append({"query": name, "ms": ms, "cpu": cpu})
        print(f"  {name:<48} {ms:10.2f} ms  (cpu {cpu:.2f} ms)", flush=True)
        return result

    s24 = add(
        "summary fleet 24h (rollups)", lambda: summary.summary(store, settings, now, w24, groups, Scope())
    )
    s30 = add(
        "summary fleet 30d (rollups)", lambda: summary.summary(store, settings, now, w30, groups, Scope())
    )
    # Relative windows end at the current minute: at :29 both edges sit mid-hour (the most
    # minute buckets a fleet window reads).
    later = now + timedelta(minutes=29)
    w24m = windows.resolve(later, "24h", None, None)
    add(
        "summary fleet 24h, edges at :30 (rollups)",
        lambda: summary.summary(store, settings, later, w24m, groups, Scope()),
    )
    add(
        "summary owner 7d (rollups)",
        lambda: summary.summary(store, settings, now, w7, groups, Scope(owner="client-7")),
    )
    add(
        "timeseries fleet 7d hourly by model (rollups)",
        lambda: summary.timeseries(store, settings, now, w7, "hour", "model", Scope()),
    )
    add("agent profile (rollups)", lambda: profile.agent_profile(store, "agent-0007", now))
    add("forecast fleet (rollups)", lambda: forecast.forecast(store, now, Scope()))
    if not baselines:
        return rows
    g24 = add("summary fleet 24h (GROUP BY raw rows)", lambda: raw_groupby_summary(store, w24), 3)
    g30 = add("summary fleet 30d (GROUP BY raw rows)", lambda: raw_groupby_summary(store, w30), 1)
    add("summary fleet 24h (Python scan of raw rows)", lambda: python_scan_summary(store, w24), 1)
    add("summary fleet 30d (Python scan of raw rows)", lambda: python_scan_summary(store, w30), 1)
    for s, g in ((s24, g24), (s30, g30)):  # the fast answer is also the right one
        assert s["count"] == g["total"][1] and s["total_usd"] == format_amount(int(g["total"][0])), (
            s["total_usd"],
            g,
        )
    return rows


# --- environment --------------------------------------------------------------------------


def machine(url: str) -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    db = f"SQLite {sqlite3.sqlite_version}"
    if url.startswith("postgres"):
        engine = make_null_pool_engine(url)
        with engine.connect() as conn:
            db = str(conn.execute(text("SHOW server_version")).scalar())
            db = f"PostgreSQL {db}"
        engine.dispose()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, {db}"


def databases(base: str | None, label: str) -> Iterator[str]:
    if base is None:
        d = tempfile.mkdtemp(prefix="sw-query-bench-")
        yield f"sqlite:///{d}/{label}.db"
        return
    name = f"sw_query_bench_{label}_{os.getpid()}"
    admin = make_null_pool_engine(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield base.rsplit("/", 1)[0] + "/" + name


def table_sizes(store: Store) -> str:
    names = (
        "transactions",
        "rollups",
        "rollups_users",
        "rollups_tasks",
        "fleet_rollups",
        "fleet_spans",
        "rollup_journal",
    )
    with store.read() as conn:
        return ", ".join(f"{n} {conn.execute(text(f'SELECT count(*) FROM {n}')).scalar():,}" for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", default="1000000,10000000", help="Comma-separated sizes to load and time."
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", default=None, help="postgresql://… (a database is created per size).")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="Append the results to docs/BENCHMARKS.md.")
    parser.add_argument(
        "--reuse",
        default=None,
        help="Time the queries on a database an earlier run loaded (its URL, printed by that run; "
        "migrated first), instead of loading --events.",
    )
    parser.add_argument(
        "--rollups-only", action="store_true", help="Skip the GROUP BY and Python-scan baselines."
    )
    args = parser.parse_args()
    results = []
    sizes_to_load = [int(x) for x in args.events.split(",")] if args.reuse is None else [0]
    for n in sizes_to_load:
        url = args.reuse or next(databases(args.database, f"e{n}"))
        print(f"== {n:,} events into {url}", flush=True)
        info = load(url, n, args.agents, args.days) if args.reuse is None else reuse(url)
        print(
            f"  loaded {info['events']:,} in {info['load_s']:.0f} s ({info['events'] / info['load_s']:,.0f}/s); "
            f"folded {info['fold_rows']:,} journal rows in {info['fold_s']:.0f} s",
            flush=True,
        )
        sizes = table_sizes(info["store"])
        print(f"  rows: {sizes}", flush=True)
        results.append(
            {
                "n": info["events"],
                "info": info,
                "sizes": sizes,
                "rows": run_queries(info["store"], info["settings"], args.repeat, not args.rollups_only),
            }
        )
        info["store"].dispose()
    report = render(results, machine(url), args)
    print(report)
    if args.record:
        record(report)


def render(results: list[dict[str, Any]], env: str, args: argparse.Namespace) -> str:
    backend = "PostgreSQL" if args.database else "SQLite"
    head = "| query | " + " | ".join(f"{r['n']:,} events" for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]
    for i, row in enumerate(results[0]["rows"]):
        lines.append(
            f"| {row['query']} | "
            + " | ".join(f"{r['rows'][i]['ms']:.1f} ms (cpu {r['rows'][i]['cpu']:.1f})" for r in results)
            + " |"
        )
    ratios = []
    for r in results:
        ms = {x["query"]: x["ms"] for x in r["rows"]}
        if args.rollups_only:
            continue
        for w in ("24h", "30d"):
            rollup = ms[f"summary fleet {w} (rollups)"]
            ratios.append(
                f"{r['n']:,} events, {w}: GROUP BY / rollups = {ms[f'summary fleet {w} (GROUP BY raw rows)'] / rollup:,.0f}x, "
                f"Python scan / rollups = {ms[f'summary fleet {w} (Python scan of raw rows)'] / rollup:,.0f}x"
            )
    loads = [
        f"{r['n']:,} events: loaded through ledger.bulk.record_batch in {r['info']['load_s']:.0f} s "
        f"({r['n'] / r['info']['load_s']:,.0f} events/s incl. rollups), journal fold {r['info']['fold_s']:.0f} s; "
        f"rows: {r['sizes']}"
        for r in results
    ]
    return "\n".join(
        [
            "",
            "## Analytics queries (bench/query.py)",
            "",
            f"Backend {backend}; {args.agents:,} agents over {args.days} days (2 models, 3 tools, 5 users each); "
            f"median of {args.repeat} runs for rollup queries. Machine: {env}. Run "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `python bench/query.py {' '.join(sys.argv[1:])}` "
            f"(load average {os.getloadavg()[0]:.1f} at the end).",
            "",
            *lines,
            "",
            *[f"- {x}" for x in ratios],
            *[f"- {x}" for x in loads],
            "",
        ]
    )


def record(report: str) -> None:
    if not DOCS.exists():
        DOCS.write_text(
            "# Benchmarks\n\nMeasured figures from the scripts in `bench/`, newest runs appended by each.\n"
        )
    with DOCS.open("a") as f:
        f.write(report)


if __name__ == "__main__":
    main()
