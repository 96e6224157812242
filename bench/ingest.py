"""Bulk ingest benchmark (issue 5, DESIGN.md §7): canonical events through ``record_batch``.

Measures, in one run per backend, on a fresh database:
  * events/s of ``record_batch`` (chain, dedupe query, bulk insert, counters, breach checks,
    observers, live events) for N events over A agents, in batches of B — target ≥ 100,000/s;
  * events/s of a bare executemany INSERT of the very same rows into a plain table with the
    same columns (no indexes), in one transaction, with the raw driver (sqlite3 / psycopg
    ``cursor.executemany`` of tuples, as our path uses the raw driver too) — target ratio
    ≥ 0.5. On PostgreSQL a bare COPY of the same rows is printed as an extra column.

``--plugins`` keeps every installed observer (signals, analytics rollups) on the write path;
the default measures the ledger's own bulk path. Events are shuffled across agents, as in
a real export. The machine is shared, so each line also gives this process's CPU seconds
(on SQLite all the work is in-process, and the CPU ratio is what load cannot skew; on
PostgreSQL the server's share is not in it).
Not a test: ``python -m bench.ingest --database sqlite --events 100000``.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, MetaData, Table

from bench._common import database, machine
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.db.tables.core import transactions
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.bulk import record_batch
from spendwarden.runtime import build_runtime

START = datetime(2026, 11, 1, tzinfo=UTC)


def make_events(n: int, agents: int) -> list[SpendEvent]:
    rng = random.Random(5)
    vendors = ["openai", "anthropic", "stripe", "x402"]
    return [
        SpendEvent(
            agent_id=f"agent-{rng.randrange(agents):05d}",
            amount=rng.randrange(1, 5000),
            vendor=vendors[i % 4],
            model="gpt-4o" if i % 4 == 0 else None,
            tool="search",
            source="bench",
            external_id=f"e{i}",
            occurred_at=START + timedelta(seconds=i % 1_000_000),
        )
        for i in range(n)
    ]


def run(kind: str, n: int, agents: int, batch: int, plugins: bool, profile: bool) -> dict[str, float]:
    with database(kind) as url:
        runtime = build_runtime(Settings(database_url=url), clock=FrozenClock(START + timedelta(days=20)))
        core = runtime.ledger.core
        if not plugins:
            core.observers.clear()
            core.publishers.clear()
        for a in range(agents):
            runtime.ledger.create_agent(AgentSpec(id=f"agent-{a:05d}", tier="custom"), "bench")
        events = make_events(n, agents)
        profiler = _profiler(profile)
        started, cpu = time.perf_counter(), time.process_time()
        accepted = 0
        for start in range(0, n, batch):
            accepted += len(record_batch(core, events[start : start + batch]).accepted)
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False)[:6000])
        assert accepted == n, accepted
        bare = _bare_insert(runtime, batch)
        runtime.close()
    figures = {"ours": n / ours, "seconds": ours, "bare": n / bare["bare"], "bare_seconds": bare["bare"]}
    figures["cpu"], figures["bare_cpu"] = ours_cpu, bare["bare_cpu"]
    if "copy" in bare:
        figures["copy"] = n / bare["copy"]
    return figures


def _bare_insert(runtime: object, batch: int) -> dict[str, float]:
    """The same rows, read back untimed, inserted into a plain table (same columns, no
    indexes) the way a person would bulk-insert with the raw driver: tuples in column order,
    one ``cursor.executemany`` per batch, all in one transaction. On PostgreSQL psycopg's
    executemany (pipelined) is the baseline; COPY of the same rows is printed as an extra."""
    store = runtime.store  # type: ignore[attr-defined]
    postgres = store.is_postgres
    plain = Table("bench_plain", MetaData(), *(Column(c.name, c.type) for c in transactions.columns))
    names = [c.name for c in transactions.columns]
    with store.write() as conn:
        plain.create(conn)
    with store.read() as conn:
        rows = [tuple(r) for r in conn.execute(transactions.select())]
    marks = ", ".join(["%s" if postgres else "?"] * len(names))
    sql = f"INSERT INTO bench_plain ({', '.join(names)}) VALUES ({marks})"
    wall, cpu = _timed(store, lambda cur, chunk: cur.executemany(sql, chunk), rows, batch)
    timings = {"bare": wall, "bare_cpu": cpu}
    if postgres:
        quoted = ", ".join(f'"{n}"' for n in names)

        def copy(cur: Any, chunk: list[tuple[Any, ...]]) -> None:
            with cur.copy(f"COPY bench_plain ({quoted}) FROM STDIN") as cp:
                for row in chunk:
                    cp.write_row(row)

        with store.write() as conn:
            conn.exec_driver_sql("TRUNCATE bench_plain")
        timings["copy"] = _timed(store, copy, rows, batch)[0]
    return timings


def _timed(store: Any, insert: Any, rows: list[tuple[Any, ...]], batch: int) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of inserting ``rows`` in one transaction."""
    started, cpu = time.perf_counter(), time.process_time()
    with store.write() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        for start in range(0, len(rows), batch):
            insert(cur, rows[start : start + batch])
    return time.perf_counter() - started, time.process_time() - cpu


def _profiler(enabled: bool) -> Any:
    if not enabled:
        return None
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--plugins", action="store_true", help="keep signals/analytics observers installed")
    parser.add_argument(
        "--profile", action="store_true", help="print a pyinstrument profile of the timed part"
    )
    args = parser.parse_args()
    print(machine())
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for kind in kinds:
        r = run(kind, args.events, args.agents, args.batch, args.plugins, args.profile)
        print(
            f"{kind:8} events={args.events} agents={args.agents} batch={args.batch} plugins={args.plugins}: "
            f"record_batch {r['ours']:,.0f}/s ({r['seconds']:.1f} s), bare executemany {r['bare']:,.0f}/s "
            f"({r['bare_seconds']:.1f} s), ratio {r['ours'] / r['bare']:.2f}"
            + (f"; bare COPY {r['copy']:,.0f}/s, ratio {r['ours'] / r['copy']:.2f}" if "copy" in r else "")
            + f"; CPU of this process: record_batch {r['cpu']:.1f} s, bare {r['bare_cpu']:.1f} s, "
            f"CPU ratio {r['bare_cpu'] / r['cpu']:.2f}"
        )


if __name__ == "__main__":
    main()
