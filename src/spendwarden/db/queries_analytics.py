"""Named SQL for analytics: rollup upserts, the fleet journal, window reads, billing, retention.

Reads take *segments* — ``(granularity, start_us, end_us)`` ranges that tile a window
exactly (``analytics/windows.py``) — and run one ``UNION ALL`` branch per segment, so
every branch is a range scan on a key that starts with the filter (agent, owner or
granularity + dimension). Where SQLite and PostgreSQL differ (multi-row upsert, draining
the journal) the difference sits in one function here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Column, Connection, Table, and_, bindparam, case, delete, func, select, text, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from spendwarden.db import joined
from spendwarden.db.tables.analytics import (
    billing_archive,
    fleet_rollups,
    rollup_journal,
    rollups,
    rollups_tasks,
    rollups_users,
)
from spendwarden.db.tables.core import agents, chain_checkpoints, holds, idempotency_keys, transactions

Row = dict[str, Any]
Segment = tuple[str, int, int]
MEASURES = ("amount", "count", "failed_count", "retry_amount", "input_tokens", "output_tokens")
USER_MEASURES = ("amount", "count")
CUBE_KEYS = (
    "agent_id",
    "granularity",
    "bucket_start_us",
    "owner",
    "model",
    "vendor",
    "rail",
    "tool",
    "kind",
    "status",
)
USER_KEYS = ("agent_id", "granularity", "bucket_start_us", "user_id", "owner")
TASK_KEYS = ("agent_id", "day_us", "task_id")
FLEET_KEYS = ("granularity", "dim", "bucket_start_us", "key")
ARCHIVE_KEYS = ("agent_id", "day_us", "vendor", "model", "rail")


# --- writes ------------------------------------------------------------------------------


@cache
def _upsert_sql(table: Table, keys: tuple[str, ...], postgres: bool) -> str:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET m = m + excluded.m`` for every other column,
    compiled once to the driver's named-parameter SQL."""
    stmt = (postgresql.insert if postgres else sqlite.insert)(table)
    adds = [c.name for c in table.columns if c.name not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in adds}
    )
    return _compiled(stmt, postgres)


@cache
def _insert_sql(table: Table, postgres: bool) -> str:
    cols = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    return _compiled(table.insert().values({c.name: bindparam(c.name) for c in cols}), postgres)


def _compiled(stmt: Any, postgres: bool) -> str:
    dialect = postgresql.psycopg.dialect() if postgres else sqlite.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    return str(stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))


def _fetch(conn: Connection, stmt: Any, names: Sequence[str]) -> list[Row]:
    """Run a read on the driver cursor: rollup reads return thousands of small rows, and
    SQLAlchemy's per-row result processing would cost more than the query itself."""
    postgres = conn.dialect.name == "postgresql"
    dialect = postgresql.psycopg.dialect() if postgres else sqlite.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(str(compiled), compiled.params)
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        cur.close()


def _executemany(conn: Connection, sql: str, rows: list[Row]) -> None:
    """Straight to the driver: SQLAlchemy's per-row parameter processing would cost more
    than the statement itself on this path (every spend transaction)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.executemany(sql, rows)
    finally:
        cur.close()


def upsert_add_many(
    conn: Connection, postgres: bool, table: Table, keys: tuple[str, ...], rows: list[Row]
) -> None:
    """Multi-row upsert adding to the existing values: keys must be unique within ``rows`` (callers aggregate
    first), and rows are sorted so concurrent writers lock shared rows in the same order."""
    if not rows:
        return
    rows.sort(key=lambda r: tuple(r[k] for k in keys))
    if postgres:  # one statement over column arrays: executemany costs ~35 µs a row
        columns = [c.name for c in table.columns]
        _driver(conn).execute(_unnest_upsert_sql(table, keys), [[r[c] for r in rows] for c in columns])
        return
    _executemany(conn, _upsert_sql(table, keys, postgres), rows)


@cache
def _unnest_upsert_sql(table: Table, keys: tuple[str, ...]) -> str:
    """PostgreSQL: ``INSERT … SELECT * FROM unnest(col arrays) ON CONFLICT … DO UPDATE``
    adding the measures, with one array parameter per column."""
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    columns = list(table.columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    arrays = ", ".join(f"%s::{c.type.compile(dialect=dialect)}[]" for c in columns)
    adds = ", ".join(
        f'"{c.name}" = {table.name}."{c.name}" + excluded."{c.name}"' for c in columns if c.name not in keys
    )
    conflict = ", ".join(f'"{k}"' for k in keys)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {adds}"
    )


def _driver(conn: Connection) -> Any:
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw


def write_agent_rollups(conn: Connection, postgres: bool, batch: dict[str, list[Row]]) -> None:
    """The observer's statements: three upserts into the agent's rollups, one journal insert."""
    upsert_add_many(conn, postgres, rollups, CUBE_KEYS, batch["cube"])
    upsert_add_many(conn, postgres, rollups_users, USER_KEYS, batch["users"])
    upsert_add_many(conn, postgres, rollups_tasks, TASK_KEYS, batch["tasks"])
    if batch["journal"] and postgres:
        columns = [c.name for c in rollup_journal.columns if c.name != "id"]
        quoted = ", ".join(f'"{c}"' for c in columns)
        with _driver(conn).cursor() as cur, cur.copy(f"COPY rollup_journal ({quoted}) FROM STDIN") as copy:
            for row in batch["journal"]:
                copy.write_row([row[c] for c in columns])
    elif batch["journal"]:
        _executemany(conn, _insert_sql(rollup_journal, postgres), batch["journal"])


FLEET_SOURCES = {
    "agent": "agent_id",
    "owner": "owner",
    "model": "model",
    "vendor": "vendor",
    "rail": "rail",
    "tool": "tool",
    "kind": "kind",
    "status": "status",
    "user": "user_id",
    "total": "''",
}
BUCKET_SIZES = {"m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
# Coarser fleet levels (``fleet_spans``), for windows covered by few blocks (windows.fleet_blocks).
SPAN_SIZES = {
    "4h": 4 * 3_600_000_000,
    "12h": 12 * 3_600_000_000,
    **{f"{n}d": n * 86_400_000_000 for n in (2, 4, 8, 16, 32, 64)},
}


@lru_cache(maxsize=64)  # the SQLite source names the batch's last id: a new text per fold
def _fold_sqls(source: str, postgres: bool, minutes_from: int | None = None) -> tuple[str, ...]:
    """Journal rows in ``source`` → every fleet cell, summed in the database: minutes straight
    from the journal (only from ``minutes_from`` on, when given), hours into the temporary
    ``fold_hours``, and days and every span from those hours (a few thousand rows, not the
    batch). Each upsert is ordered by key, so concurrent folds lock shared rows in one order."""
    mod = "%%" if postgres else "%"  # the driver formats the text on PostgreSQL
    measures = ", ".join(f'"{m}"' for m in MEASURES)
    sums = ", ".join(f'SUM("{m}")' for m in MEASURES)

    def cells(src: str, bucket: str, level_sizes: dict[str, int], per_dim: bool) -> str:
        if per_dim:  # the journal: one branch per dimension
            return " UNION ALL ".join(
                f"SELECT '{g}' AS g, '{dim}' AS dim, {_floor(bucket, size, mod)} AS b, {col} AS k, "
                f"{measures} FROM {src}"
                for g, size in level_sizes.items()
                for dim, col in FLEET_SOURCES.items()
            )
        return " UNION ALL ".join(  # fold_hours: already one row per dimension and key
            f"SELECT '{g}' AS g, dim, {_floor(bucket, size, mod)} AS b, key AS k, {measures} FROM {src}"
            for g, size in level_sizes.items()
        )

    def upsert(table: str, level_col: str, branches: str) -> str:
        updates = ", ".join(f'"{m}" = {table}."{m}" + excluded."{m}"' for m in MEASURES)
        return (
            f"INSERT INTO {table} ({level_col}, dim, bucket_start_us, key, {measures}) "
            f"SELECT g, dim, b, k, {sums} FROM ({branches}) AS cells WHERE 1 = 1 GROUP BY g, dim, b, k "
            f"ORDER BY g, dim, b, k "
            f"ON CONFLICT ({level_col}, dim, bucket_start_us, key) DO UPDATE SET {updates}"
        )

    hour = BUCKET_SIZES["h"]
    return (
        "DELETE FROM fold_hours",
        upsert(
            "fleet_rollups",
            "granularity",
            cells(
                source
                if minutes_from is None
                else f"(SELECT * FROM {source} WHERE bucket_start_us >= {int(minutes_from)}) AS recent",
                "bucket_start_us",
                {"m": BUCKET_SIZES["m"]},
                True,
            ),
        ),
        f"INSERT INTO fold_hours (dim, bucket_start_us, key, {measures}) "
        f"SELECT dim, b, k, {sums} FROM ({cells(source, 'bucket_start_us', {'h': hour}, True)}) AS cells "
        f"GROUP BY dim, b, k",
        upsert(
            "fleet_rollups",
            "granularity",
            cells("fold_hours", "bucket_start_us", {"h": hour, "d": BUCKET_SIZES["d"]}, False),
        ),
        upsert("fleet_spans", "span", cells("fold_hours", "bucket_start_us", SPAN_SIZES, False)),
    )


def _floor(col: str, size: int, mod: str) -> str:
    return col if size == BUCKET_SIZES["m"] else f"{col} - {col} {mod} {size}"


def _fold_hours_table(conn: Connection, postgres: bool) -> None:
    cols = ", ".join(f'"{m}" BIGINT NOT NULL' for m in MEASURES)
    tail = " ON COMMIT DELETE ROWS" if postgres else ""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS fold_hours (dim VARCHAR(10) NOT NULL, "
        f"bucket_start_us BIGINT NOT NULL, key VARCHAR(200) NOT NULL, {cols}){tail}"
    )


def fold_journal_batch(conn: Connection, postgres: bool, limit: int, minutes_from: int | None = None) -> int:
    """Move up to ``limit`` journal rows into ``fleet_rollups`` and ``fleet_spans`` in the
    caller's transaction; every row is either still in the journal or folded, never both,
    never neither. Minute cells before ``minutes_from`` (past minute retention, never read)
    are not written: a backfill of old history costs hours, days and spans only."""
    if minutes_from is not None:
        minutes_from -= minutes_from % BUCKET_SIZES["h"]  # one statement per hour, not per call
    _fold_hours_table(conn, postgres)
    if postgres:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS fold_batch (LIKE rollup_journal) ON COMMIT DELETE ROWS"
        )
        # Two statements, the ids passed as an array: as one statement (DELETE … WHERE id IN
        # (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)) a planner with stale statistics (the queue
        # analyzed while empty) ran the locking subquery once per journal row: 441 s for one
        # batch of 5,000 at 25,000 rows, against 49 ms this way, whatever the statistics.
        cur = _driver(conn).cursor()
        cur.execute(f"SELECT id FROM rollup_journal ORDER BY id LIMIT {int(limit)} FOR UPDATE SKIP LOCKED")
        ids = [row[0] for row in cur.fetchall()]
        if not ids:
            return 0
        joined.execute(
            cur,
            "WITH t AS (DELETE FROM rollup_journal WHERE id = ANY(%b::bigint[]) RETURNING *)"
            " INSERT INTO fold_batch SELECT * FROM t",
            [ids],
        )
        taken = cur.rowcount
        if taken:
            for sql in _fold_sqls("fold_batch", True, minutes_from):
                conn.exec_driver_sql(sql)
        return int(taken)
    last = conn.execute(
        select(func.max(text("id"))).select_from(
            select(rollup_journal.c.id).order_by(rollup_journal.c.id).limit(limit).subquery()
        )
    ).scalar()
    if last is None:
        return 0
    source = f"(SELECT * FROM rollup_journal WHERE id <= {int(last)})"
    for sql in _fold_sqls(source, False, minutes_from):
        conn.exec_driver_sql(sql)
    return int(conn.execute(delete(rollup_journal).where(rollup_journal.c.id <= int(last))).rowcount)


def journal_size(conn: Connection, upto: int = 1) -> int:
    """Journal rows, counted up to ``upto`` (enough to know whether a fold has work)."""
    sub = select(rollup_journal.c.id).limit(upto).subquery()
    return int(conn.execute(select(func.count()).select_from(sub)).scalar_one())


# --- window reads ------------------------------------------------------------------------


def _sums(sub: Any, names: Sequence[str]) -> list[Any]:
    return [func.sum(sub.c[m]).label(m) for m in names]


def _union(table: Table, cols: list[Column[Any]], segments: Sequence[Segment], where: list[Any]) -> Any:
    parts: list[Select[Any]] = [
        select(*cols).where(
            table.c.granularity == g, table.c.bucket_start_us >= lo, table.c.bucket_start_us < hi, *where
        )
        for g, lo, hi in segments
    ]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()


def _scope_where(table: Table, agent_id: str | None, owner: str | None) -> list[Any]:
    where = []
    if agent_id is not None:
        where.append(table.c.agent_id == agent_id)
    if owner is not None:
        where.append(table.c.owner == owner)
    return where


def cube_grouped(
    conn: Connection,
    segments: Sequence[Segment],
    *,
    agent_id: str | None,
    owner: str | None,
    group: Sequence[str],
    with_bucket: bool = False,
) -> list[Any]:
    """Per-agent rollups in the window, summed per ``group`` (and per bucket when asked)."""
    keys = [*group, "bucket_start_us"] if with_bucket else list(group)
    cols = [rollups.c[k] for k in keys] + [rollups.c[m] for m in MEASURES]
    sub = _union(rollups, cols, segments, _scope_where(rollups, agent_id, owner))
    stmt = select(*[sub.c[k] for k in keys], *_sums(sub, MEASURES)).group_by(*[sub.c[k] for k in keys])
    return _fetch(conn, stmt, [*keys, *MEASURES])


def users_grouped(
    conn: Connection,
    segments: Sequence[Segment],
    *,
    agent_id: str | None,
    owner: str | None,
    with_bucket: bool = False,
) -> list[Any]:
    """Spend per end user in the window (and per bucket when asked), as ``user_id``."""
    keys = ["user_id", "bucket_start_us"] if with_bucket else ["user_id"]
    cols = [rollups_users.c[k] for k in keys] + [rollups_users.c[m] for m in USER_MEASURES]
    sub = _union(rollups_users, cols, segments, _scope_where(rollups_users, agent_id, owner))
    stmt = select(*[sub.c[k] for k in keys], *_sums(sub, USER_MEASURES)).group_by(*[sub.c[k] for k in keys])
    return _fetch(conn, stmt, [*keys, *USER_MEASURES])


def fleet_block_sums(
    conn: Connection,
    blocks: Sequence[tuple[str, int, int, int]],
    dims: Sequence[str],
    measures: Sequence[str] = MEASURES,
) -> list[tuple[Any, ...]]:
    """``(dim, key, *measures)`` summed over signed blocks ``(level, start, end, coefficient)``
    (``windows.fleet_blocks``) in the database: each block is one range read on the key of
    ``fleet_rollups`` (minute, hour, day) or ``fleet_spans`` (coarser levels), and the sum
    happens in one ``GROUP BY``. Ask only for the measures you use: each costs per row."""
    if not blocks:
        return []
    dim_list = ", ".join(f"'{d}'" for d in dims if d in FLEET_SOURCES)
    parts = _block_cells(blocks, f"dim IN ({dim_list})", "dim, key", measures)
    sums = ", ".join(f'CAST(SUM("{m}") AS BIGINT)' for m in measures)
    return _raw(
        conn, f"SELECT dim, key, {sums} FROM ({' UNION ALL '.join(parts)}) AS cells GROUP BY dim, key"
    )


def _block_cells(
    blocks: Sequence[tuple[str, int, int, int]], dim_filter: str, head: str, measures: Sequence[str]
) -> list[str]:
    """One ``SELECT {head}, measures…`` per signed block (a range read on the key of
    ``fleet_rollups`` for minute, hour and day, of ``fleet_spans`` for coarser levels), the
    measures multiplied by the block's coefficient."""
    parts = []
    for level, lo, hi, coef in blocks:
        table, col = ("fleet_rollups", "granularity") if level in BUCKET_SIZES else ("fleet_spans", "span")
        where = (
            f"bucket_start_us = {int(lo)}"
            if hi - lo == _size(level)
            else f"bucket_start_us >= {int(lo)} AND bucket_start_us < {int(hi)}"
        )
        values = ", ".join(f'"{m}"' if coef == 1 else f'{int(coef)} * "{m}" AS "{m}"' for m in measures)
        parts.append(
            f"SELECT {head}, {values} FROM {table} WHERE {col} = '{level}' AND {dim_filter} AND {where}"
        )
    return parts


RANKED_MEASURES = ("amount", "count", "failed_count")


def fleet_ranked(
    conn: Connection,
    postgres: bool,
    blocks: Sequence[tuple[str, int, int, int]],
    journal: tuple[int, int],
    dim: str,
    top: int,
    by_count: int = 0,
    names: Sequence[str] = RANKED_MEASURES,
) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]], int, list[int]]:
    """One fleet dimension over signed blocks plus the journal rows in ``journal`` (a
    window), ranked in the database: the ``top`` keys by amount and the ``by_count`` keys
    by count (ties by key, in code-point order), how many keys have any amount or count,
    and their summed measures (``names``, a prefix of ``RANKED_MEASURES``: each costs per
    row, and 20,000 agents are 20,000 rows). A summary shows only the largest keys and the
    rest as one sum, so only those rows cross into Python: grouping in SQL and building one
    Python row per key (thousands of agents and users) was most of its time. The user
    dimension leaves out calls without a user (key ``''``)."""
    cells = _block_cells(blocks, f"dim = '{dim}'", "key", names)
    journal_cols = ", ".join(f'"{m}"' for m in names)
    cells.append(
        f"SELECT {FLEET_SOURCES[dim]} AS key, {journal_cols} FROM rollup_journal "
        f"WHERE bucket_start_us >= {int(journal[0])} AND bucket_start_us < {int(journal[1])}"
    )
    key_order = 'key COLLATE "C"' if postgres else "key"
    sums = ", ".join(f'CAST(SUM("{m}") AS BIGINT) AS "{m}"' for m in names)
    having = 'SUM("amount") <> 0 OR SUM("count") <> 0'
    if dim == "user":
        having = f"({having}) AND key <> ''"
    cols = ", ".join(f'"{m}"' for m in names)
    ranked = [
        f"SELECT * FROM (SELECT 0 AS part, key, {cols}, 0 AS present FROM g "
        f'ORDER BY "amount" DESC, {key_order} LIMIT {int(top)}) AS by_amount'
    ]
    if by_count:
        ranked.append(
            f"SELECT * FROM (SELECT 1 AS part, key, {cols}, 0 AS present FROM g "
            f'ORDER BY "count" DESC, {key_order} LIMIT {int(by_count)}) AS by_count'
        )
    totals = ", ".join(f'CAST(COALESCE(SUM("{m}"), 0) AS BIGINT)' for m in names)
    ranked.append(f"SELECT 2 AS part, NULL AS key, {totals}, COUNT(*) AS present FROM g")
    sql = (
        f"WITH cells AS ({' UNION ALL '.join(cells)}), "
        f"g AS MATERIALIZED (SELECT key, {sums} FROM cells GROUP BY key HAVING {having}) "
        + " UNION ALL ".join(ranked)
    )
    by_amount: list[tuple[str, list[int]]] = []
    by_requests: list[tuple[str, list[int]]] = []
    present, totals_row = 0, [0] * len(names)
    for part, key, *values in _raw(conn, sql):
        measures = [int(v) for v in values[: len(names)]]
        if part == 2:
            present, totals_row = int(values[-1]), measures
        else:
            (by_amount if part == 0 else by_requests).append((key, measures))
    # UNION ALL keeps each branch's rows together but not necessarily in order: sort
    # again (a few dozen rows) so the ranking is exactly the documented one.
    by_amount.sort(key=lambda i: (-i[1][0], i[0]))
    by_requests.sort(key=lambda i: (-i[1][1], i[0]))
    return by_amount, by_requests, present, totals_row


def fleet_series(
    conn: Connection,
    segments: Sequence[Segment],
    dim: str,
    bucket_size: int,
    measures: Sequence[str] = MEASURES,
) -> list[tuple[Any, ...]]:
    """``(key, bucket start, *measures)`` of one fleet dimension, summed per ``bucket_size``
    bucket in the database (segments must be no coarser than the bucket)."""
    if not segments or dim not in FLEET_SOURCES:
        return []
    cols = ", ".join(f'"{m}"' for m in measures)
    parts = " UNION ALL ".join(
        f"SELECT key, bucket_start_us - bucket_start_us % {int(bucket_size)} AS t, {cols} FROM fleet_rollups "
        f"WHERE granularity = '{g}' AND dim = '{dim}' AND bucket_start_us >= {int(lo)} "
        f"AND bucket_start_us < {int(hi)}"
        for g, lo, hi in segments
    )
    sums = ", ".join(f'CAST(SUM("{m}") AS BIGINT)' for m in measures)
    return _raw(conn, f"SELECT key, t, {sums} FROM ({parts}) AS cells GROUP BY key, t")


def _raw(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """A parameterless read on the driver cursor (no placeholder processing: ``%`` is literal)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _size(level: str) -> int:
    return BUCKET_SIZES.get(level) or SPAN_SIZES[level]


def journal_in(conn: Connection, start_us: int, end_us: int) -> list[Any]:
    """Journal rows (not yet folded) whose minute lies in the window."""
    stmt = select(rollup_journal).where(
        rollup_journal.c.bucket_start_us >= start_us, rollup_journal.c.bucket_start_us < end_us
    )
    return list(conn.execute(stmt).mappings())


def task_spend(conn: Connection, agent_id: str, start_day: int, end_day: int) -> dict[str, int]:
    """Spend per task over days ``[start_day, end_day)`` from the task rollups."""
    stmt = (
        select(rollups_tasks.c.task_id, func.sum(rollups_tasks.c.amount))
        .where(
            rollups_tasks.c.agent_id == agent_id,
            rollups_tasks.c.day_us >= start_day,
            rollups_tasks.c.day_us < end_day,
        )
        .group_by(rollups_tasks.c.task_id)
    )
    return {r[0]: int(r[1]) for r in conn.execute(stmt)}


def task_totals(conn: Connection, agent_id: str, task_ids: Iterable[str]) -> dict[str, int]:
    ids = list(task_ids)
    if not ids:
        return {}
    stmt = (
        select(rollups_tasks.c.task_id, func.sum(rollups_tasks.c.amount))
        .where(rollups_tasks.c.agent_id == agent_id, rollups_tasks.c.task_id.in_(ids))
        .group_by(rollups_tasks.c.task_id)
    )
    return {r[0]: int(r[1]) for r in conn.execute(stmt)}


def agent_owners(conn: Connection, owner: str | None = None, agent_id: str | None = None) -> dict[str, str]:
    stmt = select(agents.c.id, agents.c.owner).order_by(agents.c.id)
    if owner is not None:
        stmt = stmt.where(agents.c.owner == owner)
    if agent_id is not None:
        stmt = stmt.where(agents.c.id == agent_id)
    return {r[0]: r[1] for r in conn.execute(stmt)}


# --- billing (raw rows: a report must trace to them) -------------------------------------

BILLING_COLS = ("id", "agent_id", "seq", "amount", "status", "vendor", "model", "rail", "occurred_at")


def billing_rows(conn: Connection, agent_ids: list[str], start_us: int, end_us: int) -> Iterator[Row]:
    """Ledger rows of these agents that occurred in ``[start, end)``, in chain order."""
    for aid in agent_ids:
        stmt = (
            select(*[transactions.c[c] for c in BILLING_COLS])
            .where(
                transactions.c.agent_id == aid,
                transactions.c.occurred_at >= start_us,
                transactions.c.occurred_at < end_us,
            )
            .order_by(transactions.c.seq)
            .execution_options(yield_per=5000)
        )
        for r in conn.execute(stmt).mappings():
            yield dict(r)


def ledger_net(conn: Connection, agent_ids: list[str], start_us: int, end_us: int) -> tuple[int, int]:
    """Independent check for reconciliation: net spend and row count straight from the ledger."""
    if not agent_ids:
        return 0, 0
    net = case(
        (transactions.c.status == "settled", transactions.c.amount),
        (transactions.c.status == "refunded", -transactions.c.amount),
        else_=0,
    )
    stmt = select(func.coalesce(func.sum(net), 0), func.count()).where(
        transactions.c.agent_id.in_(agent_ids),
        transactions.c.occurred_at >= start_us,
        transactions.c.occurred_at < end_us,
    )
    total, count = conn.execute(stmt).one()
    return int(total), int(count)


def archive_rows(conn: Connection, agent_ids: list[str], start_day: int, end_day: int) -> list[Row]:
    if not agent_ids:
        return []
    stmt = (
        select(billing_archive)
        .where(
            billing_archive.c.agent_id.in_(agent_ids),
            billing_archive.c.day_us >= start_day,
            billing_archive.c.day_us < end_day,
        )
        .order_by(billing_archive.c.agent_id, billing_archive.c.day_us)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def archive_span(conn: Connection, agent_ids: list[str]) -> dict[str, int]:
    """Per agent, the latest pruned day (archived data exists before its end)."""
    if not agent_ids:
        return {}
    stmt = (
        select(billing_archive.c.agent_id, func.max(billing_archive.c.day_us))
        .where(billing_archive.c.agent_id.in_(agent_ids))
        .group_by(billing_archive.c.agent_id)
    )
    return {r[0]: int(r[1]) for r in conn.execute(stmt)}


# --- retention ---------------------------------------------------------------------------


def prune_boundary(conn: Connection, agent_id: str, cut_us: int) -> int | None:
    """The last sequence number that may be pruned: every row up to it occurred before the
    cut (chains are pruned as a prefix, so a late backfill keeps its later rows)."""
    first_kept = select(func.min(transactions.c.seq)).where(
        transactions.c.agent_id == agent_id, transactions.c.occurred_at >= cut_us
    )
    kept = conn.execute(first_kept).scalar()
    if kept is not None:
        return int(kept) - 1
    last = conn.execute(
        select(func.max(transactions.c.seq)).where(transactions.c.agent_id == agent_id)
    ).scalar()
    return None if last is None else int(last)


def rows_through(conn: Connection, agent_id: str, last_seq: int, limit: int) -> list[Row]:
    """The oldest ``limit`` rows of the agent's chain up to ``last_seq``."""
    stmt = (
        select(*[transactions.c[c] for c in (*BILLING_COLS, "hash")])
        .where(transactions.c.agent_id == agent_id, transactions.c.seq <= last_seq)
        .order_by(transactions.c.seq)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def archive_add(conn: Connection, postgres: bool, rows: list[Row]) -> None:
    """Add pruned lines; sequence ranges grow (pruning runs in chain order)."""
    if not rows:
        return
    stmt = (postgresql.insert if postgres else sqlite.insert)(billing_archive)
    adds = ("amount", "settled_amount", "refunded_amount", "count")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(ARCHIVE_KEYS),
        set_={
            **{c: billing_archive.c[c] + stmt.excluded[c] for c in adds},
            "last_seq": stmt.excluded.last_seq,
            "last_id": stmt.excluded.last_id,
            "pruned_at": stmt.excluded.pruned_at,
        },
    )
    conn.execute(stmt, rows)


def put_checkpoint(conn: Connection, postgres: bool, row: Row) -> None:
    stmt = (postgresql.insert if postgres else sqlite.insert)(chain_checkpoints).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["agent_id"], set_={k: stmt.excluded[k] for k in row if k != "agent_id"}
    )
    conn.execute(stmt)


def delete_through(conn: Connection, agent_id: str, last_seq: int) -> int:
    stmt = delete(transactions).where(transactions.c.agent_id == agent_id, transactions.c.seq <= last_seq)
    return int(conn.execute(stmt).rowcount)


def delete_closed_holds(conn: Connection, cut_us: int) -> int:
    stmt = delete(holds).where(holds.c.status != "open", holds.c.closed_at < cut_us)
    return int(conn.execute(stmt).rowcount)


def delete_idempotency(conn: Connection, cut_us: int) -> int:
    return int(conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cut_us)).rowcount)


def delete_minute_rollups(conn: Connection, before_us: int) -> int:
    """Minute detail is kept for a few days only (hours and days forever)."""
    removed = 0
    for table in (rollups, rollups_users, fleet_rollups):
        stmt = delete(table).where(and_(table.c.granularity == "m", table.c.bucket_start_us < before_us))
        removed += int(conn.execute(stmt).rowcount)
    return removed


def count_prunable(conn: Connection, cut_us: int) -> int:
    stmt = select(func.count()).select_from(transactions).where(transactions.c.occurred_at < cut_us)
    return int(conn.execute(stmt).scalar_one())


def agents_with_rows_before(conn: Connection, cut_us: int) -> list[str]:
    stmt = select(transactions.c.agent_id).where(transactions.c.occurred_at < cut_us).distinct()
    return sorted(r[0] for r in conn.execute(stmt))


def completed_tasks(conn: Connection, agent_id: str, start_us: int, end_us: int) -> list[str] | None:
    """Tasks the agent completed in the window, from the signals part's ``tasks`` table;
    ``None`` when that table is not part of this installation."""
    from spendwarden.db.tables.meta import metadata

    tasks = metadata.tables.get("tasks")
    if tasks is None or "completed_at" not in tasks.c:
        return None
    stmt = select(tasks.c.task_id).where(
        tasks.c.agent_id == agent_id,
        tasks.c.status == "completed",
        tasks.c.completed_at >= start_us,
        tasks.c.completed_at < end_us,
    )
    return [r[0] for r in conn.execute(stmt)]
