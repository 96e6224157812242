"""Bulk loading for the scale benchmark: agents and ledger rows written with COPY.

Creating 400,000 agents through the API (one audited transaction each) would take hours,
so rows are built with the ledger's own code (``Agent.to_row``, ``row_hash`` for the
chain, ``window_keys`` for the counters) and written with PostgreSQL COPY. What is skipped:
the audit rows of agent creation and the per-row observers (rollups, detectors) for the
historical rows; the database is otherwise exactly what the ledger would have written, so
``verify`` passes and caps read correct counters. Counters of windows that closed before
the retention horizon (``counter_retention_days``) are not written either, as on a server
whose hourly prune has run (``ledger/horizon.py``); ``counter_retention_days=None`` writes
them all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import psycopg

from spendwarden.clock import from_us
from spendwarden.ledger.chain import GENESIS, TXN_FIELDS, row_hash
from spendwarden.ledger.horizon import first_kept, is_kept
from spendwarden.ledger.record import counter_delta
from spendwarden.ledger.types import Agent
from spendwarden.ledger.windows import window_keys
from spendwarden.money import usd

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
CAPS = {"daily": usd("1000"), "monthly": usd("20000")}
VENDORS = ["openai", "anthropic", "stripe", "serpapi", "x402-weather", "l402-news"]
MODELS = ["gpt-4.1-mini", "claude-sonnet-4", "gpt-4.1", None]
TOOLS = ["search", "browse", "code", "pay", None]
RAILS = ["llm_api", "llm_api", "llm_api", "stripe", "x402", "l402"]
TXN_COLS = (*TXN_FIELDS, "prev_hash", "hash")


def agent_id(i: int) -> str:
    return f"agent-{i:07d}"


def agent_key(i: int) -> str:
    """Deterministic keys, so the benchmark can call as any agent without storing secrets."""
    return f"sw_agent_scale{i:07d}" + hashlib.sha256(f"scale-{i}".encode()).hexdigest()[:24]


@contextmanager
def raw(url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=False) as conn:
        yield conn


def copy_rows(
    conn: psycopg.Connection[Any], table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """COPY in text format, built in bulk (our values never hold tabs, newlines or backslashes)."""
    lines = "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        copy.write(lines.encode())


def agent_rows(start: int, stop: int, now_us: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    agents, keys = [], []
    for i in range(start, stop):
        agent = Agent(
            id=agent_id(i), name=agent_id(i), owner=f"team-{i % 200}", tier="custom", status="active",
            status_reason=None, caps=CAPS, halt_rules={}, policy={}, active_hours=None, task_scope=None,
            silence_minutes=15, labels={}, signals={}, created_at=now_us, updated_at=now_us,
        )  # fmt: skip
        row = agent.to_row()
        agents.append(tuple(row.values()))
        secret = agent_key(i)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        keys.append((f"key_scale{i:07d}", row["id"], digest, secret[:15], "scale", now_us, None))
    return agents, keys


AGENT_COLS = tuple(
    Agent(
        id="x", name="x", owner="", tier="custom", status="active", status_reason=None, caps={},
        halt_rules={}, policy={}, active_hours=None, task_scope=None, silence_minutes=15, labels={},
        signals={}, created_at=0, updated_at=0,
    ).to_row()
)  # fmt: skip
KEY_COLS = ("id", "agent_id", "key_hash", "prefix", "label", "created_at", "revoked_at")


def load_agents(url: str, n: int, now_us: int, chunk: int = 20_000) -> float:
    """Agents and their keys; returns rows per second (agents)."""
    t0 = time.perf_counter()
    with raw(url) as conn:
        for start in range(0, n, chunk):
            agents, keys = agent_rows(start, min(n, start + chunk), now_us)
            copy_rows(conn, "agents", AGENT_COLS, agents)
            copy_rows(conn, "agent_keys", KEY_COLS, keys)
            conn.commit()
    return n / (time.perf_counter() - t0)


def events_of(rng: random.Random, aid: int, count: int, now_us: int, days: int) -> list[dict[str, Any]]:
    """``count`` chained ledger rows for one agent, spread over the ``days`` before yesterday.
    Ids start ``txn_00``: below every ULID the server issues now, as history imported
    earlier would be (newest-first listings walk ids down from the newest)."""
    times = sorted(now_us - DAY_US - rng.randrange(days * DAY_US) for _ in range(count))
    head_id, head_hash, rows = None, GENESIS, []
    for seq, at in enumerate(times, start=1):
        rail = rng.choice(RAILS)
        row: dict[str, Any] = dict.fromkeys(TXN_FIELDS)
        row.update(
            id=f"txn_00{aid:07d}{seq:06d}", agent_id=agent_id(aid), seq=seq, amount=rng.randrange(100, 200_000),
            rail=rail, vendor=rng.choice(VENDORS), tool=rng.choice(TOOLS), model=rng.choice(MODELS),
            kind="llm_call" if rail == "llm_api" else "payment", status="settled", attempt=1,
            task_id=f"task-{rng.randrange(50)}", source="import", external_id=f"scale:{aid}:{seq}",
            occurred_at=at, recorded_at=at, prev_id=head_id,
        )  # fmt: skip
        row["prev_hash"] = head_hash
        row["hash"] = head_hash = row_hash(head_hash, row, TXN_FIELDS)
        head_id = row["id"]
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=100_000)
def hour_windows(hour: int) -> tuple[tuple[str, str], ...]:
    """Window keys only change by the hour; computing them once per hour is 5x faster."""
    return tuple(window_keys(from_us(hour * HOUR_US)).items())


def counters_of(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[int]]:
    sums: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        delta = counter_delta(row["status"], row["amount"])
        pairs = [*hour_windows(row["occurred_at"] // HOUR_US), ("per_task", row["task_id"])]
        for pair in pairs:
            acc = sums.setdefault(pair, [0, 0])
            acc[0] += delta
            acc[1] += 1
    return sums


def load_events(
    url: str, n_agents: int, n_events: int, now_us: int, *, days: int = 30, chunk: int = 2000,
    seed: int = 7, progress: Any = print, workers: int = 1, counter_retention_days: int | None = 3,
) -> dict[str, float]:  # fmt: skip
    """Ledger rows, counters and each agent's state row (chain head); returns figures.
    ``workers`` > 1 builds and copies disjoint ranges of agents in that many processes (each
    range has its own seeded generator, so the rows do not depend on the number of workers)."""
    per, extra = divmod(n_events, n_agents)
    keep = None if counter_retention_days is None else first_kept(now_us, counter_retention_days)
    jobs = [
        _Job(url, start, min(n_agents, start + chunk), per, extra, now_us, days, seed, keep)
        for start in range(0, n_agents, chunk)
    ]
    t0, written = time.perf_counter(), 0
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
            done: Iterator[int] = pool.imap_unordered(_load_range, jobs)
        else:
            done = map(_load_range, jobs)
        for i, rows in enumerate(done):
            written += rows
            if i % 10 == 0:
                rate = written / (time.perf_counter() - t0)
                progress(f"  events: {written:,} rows, {rate:,.0f} rows/s")
    elapsed = time.perf_counter() - t0
    return {"events": written, "seconds": elapsed, "rows_per_s": written / elapsed, "workers": workers}


class _Job(NamedTuple):
    url: str
    start: int
    stop: int
    per: int
    extra: int
    now_us: int
    days: int
    seed: int
    keep: dict[str, str] | None  # the oldest period kept per closing scope (None: all)


def _load_range(job: _Job) -> int:
    """Build and COPY the rows of agents ``start..stop`` in one transaction."""
    rng = random.Random(f"{job.seed}:{job.start}")
    txns, counters, states = [], [], []
    for aid in range(job.start, job.stop):
        rows = events_of(rng, aid, job.per + (1 if aid < job.extra else 0), job.now_us, job.days)
        txns += [tuple(r[c] for c in TXN_COLS) for r in rows]
        counters += [
            (agent_id(aid), s, p, v[0], 0, v[1])
            for (s, p), v in counters_of(rows).items()
            if job.keep is None or is_kept(s, p, job.keep)
        ]
        last = rows[-1] if rows else None
        states.append(
            (agent_id(aid), last["seq"] if last else 0, last["id"] if last else None,
             last["hash"] if last else GENESIS, 0, None, job.now_us)
        )  # fmt: skip
    with raw(job.url) as conn:
        copy_rows(conn, "transactions", TXN_COLS, txns)
        copy_rows(
            conn, "spend_counters", ("agent_id", "scope", "period", "amount", "held", "count"), counters
        )
        copy_rows(
            conn, "agent_state",
            ("agent_id", "seq", "head_id", "head_hash", "held", "signal_state", "updated_at"), states,
        )  # fmt: skip
        conn.commit()
    return len(txns)
