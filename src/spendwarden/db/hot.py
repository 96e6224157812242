"""Hand-written SQL for the authorization hot path, run on the raw DB-API connection.

An authorization sits in front of every agent call, so its few statements skip
SQLAlchemy's per-statement machinery (about 25 µs each) and go straight to the driver,
inside the same transaction the store opened. Statements are written once with
``:name`` parameters (sqlite3's style) and converted for psycopg.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection

from spendwarden.db import joined

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


@cache
def _sql(text: str, postgres: bool) -> str:
    return _PARAM.sub(r"%(\1)s", text) if postgres else text


def raw(conn: Connection) -> Any:
    """The driver connection under a SQLAlchemy connection (same transaction)."""
    fairy = getattr(conn, "_dbapi_connection", None)  # skips the public property's checks
    if fairy is None:
        return conn.connection.dbapi_connection
    return fairy.dbapi_connection


def fetch_one(conn: Connection, postgres: bool, text: str, params: dict[str, Any]) -> dict[str, Any] | None:
    return _read_one(raw(conn), postgres, text, params)


def fetch_all(conn: Connection, postgres: bool, text: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(raw(conn).execute(_sql(text, postgres), params).fetchall())


def execute(conn: Connection, postgres: bool, text: str, params: dict[str, Any]) -> None:
    raw(conn).execute(_sql(text, postgres), params)


_FIND_KEY = """
SELECT k.id, k.agent_id, k.key_hash, k.revoked_at, a.status, a.caps, a.policy
FROM agent_keys k JOIN agents a ON a.id = k.agent_id WHERE k.key_hash = :key_hash"""
FIND_KEY_NUMBERED = _FIND_KEY.replace(":key_hash", "$1")  # for asyncpg (db/pg_authorize.py)
_FIND_ADMIN_TOKEN = """
SELECT id, token_hash, role, label, created_at, revoked_at FROM admin_tokens WHERE token_hash = :token_hash"""


def _read_one(dbapi: Any, postgres: bool, text: str, params: dict[str, Any]) -> dict[str, Any] | None:
    cur = dbapi.execute(_sql(text, postgres), params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def find_key(dbapi: Any, postgres: bool, key_hash: str) -> dict[str, Any] | None:
    """An agent key and its agent's status by hash (every agent request), on a driver
    connection from ``Store.hot_read``."""
    return _read_one(dbapi, postgres, _FIND_KEY, {"key_hash": key_hash})


def find_admin_token(dbapi: Any, postgres: bool, token_hash: str) -> dict[str, Any] | None:
    return _read_one(dbapi, postgres, _FIND_ADMIN_TOKEN, {"token_hash": token_hash})


_LOCK = """
SELECT s.seq AS s_seq, s.head_id AS s_head_id, s.head_hash AS s_head_hash, s.held AS s_held,
       s.signal_state AS s_signal_state, s.signal_watch_until AS s_signal_watch_until, a.*
FROM agent_state s JOIN agents a ON a.id = s.agent_id
WHERE s.agent_id = :agent_id"""


def _split_state(row: dict[str, Any], agent_id: str) -> dict[str, Any]:
    """Take the ``s_*`` columns of a locked row out into the agent's state dict."""
    return {
        "agent_id": agent_id,
        "seq": row.pop("s_seq"),
        "head_id": row.pop("s_head_id"),
        "head_hash": row.pop("s_head_hash"),
        "held": row.pop("s_held"),
        "signal_state": row.pop("s_signal_state"),
        "signal_watch_until": row.pop("s_signal_watch_until"),
    }


# PostgreSQL takes the row locks in a statement of their own, and reads what it needs in
# the next one. Under READ COMMITTED a statement that waited for a row lock re-reads only
# the locked row: an agent row or counters joined into it would be as they were before the
# wait, missing what the transaction it waited for did (a halt, a settlement's spend).
# SQLite holds its one write lock from BEGIN IMMEDIATE, so it locks and reads at once.
_PG_LOCK_STATES = "SELECT agent_id FROM agent_state WHERE agent_id {ids} ORDER BY agent_id FOR UPDATE"
_PG_LOCK_MANY = _sql(_PG_LOCK_STATES.format(ids="= ANY(:agent_ids)"), True)


def _locked_read(
    conn: Connection, postgres: bool, text: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    """Lock one agent's state row, then read ``text``. On PostgreSQL the transaction's BEGIN,
    the lock and the read go in one pipeline: still two statements, run in order (see
    above), but one round trip instead of three. SQLite's BEGIN IMMEDIATE holds the lock."""
    if not postgres:
        return fetch_one(conn, False, text, params)
    dbapi = raw(conn)
    with dbapi.pipeline():
        dbapi.execute(_sql(_PG_LOCK_ONE, True), {"agent_id": params["agent_id"]})
        return _read_one(dbapi, True, text, params)


_PG_LOCK_ONE = _PG_LOCK_STATES.format(ids="= :agent_id")


def lock_agent(
    conn: Connection, postgres: bool, agent_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Lock the agent's state row and read it with the agent (one statement on SQLite)."""
    row = _locked_read(conn, postgres, _LOCK, {"agent_id": agent_id})
    if row is None:
        return None
    return _split_state(row, agent_id), row


COUNTER_SCOPES = ("hourly", "daily", "weekly", "monthly", "total", "per_task")
# One exact (agent_id, scope, period) index lookup per scope: an OR over the scopes made
# SQLite walk every counter row the agent ever had (one per hour and per task).
_LOCK_WITH_COUNTERS = (
    "SELECT s.seq AS s_seq, s.head_id AS s_head_id, s.head_hash AS s_head_hash, s.held AS s_held,"
    " s.signal_state AS s_signal_state, s.signal_watch_until AS s_signal_watch_until, "
    + ", ".join(f"c_{c}.amount AS c_{c}_amount, c_{c}.held AS c_{c}_held" for c in COUNTER_SCOPES)
    + ", a.* FROM agent_state s JOIN agents a ON a.id = s.agent_id "
    + " ".join(
        f"LEFT JOIN spend_counters c_{c} ON c_{c}.agent_id = s.agent_id"
        f" AND c_{c}.scope = '{c}' AND c_{c}.period = :{c}"
        for c in COUNTER_SCOPES
    )
    + " WHERE s.agent_id = :agent_id"
)


def lock_agent_with_counters(
    conn: Connection, postgres: bool, agent_id: str, keys: dict[str, str], task_id: str | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[int, int]]] | None:
    """``lock_agent`` plus ``counters``: the state, the agent and every window counter the
    cap check needs in one read (after the lock statement on PostgreSQL)."""
    params = {"agent_id": agent_id, **keys, "per_task": task_id or ""}
    row = _locked_read(conn, postgres, _LOCK_WITH_COUNTERS, params)
    if row is None:
        return None
    found = _split_counters(row)
    return _split_state(row, agent_id), row, found


def _split_counters(row: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Take the ``c_*`` columns out of a row read with counters: (settled, held) per scope."""
    found: dict[str, tuple[int, int]] = {}
    for scope in COUNTER_SCOPES:
        amount, held = row.pop(f"c_{scope}_amount"), row.pop(f"c_{scope}_held")
        if amount is not None:
            found[scope] = (int(amount), int(held))
    return found


def _counter_reads(columns: str, scopes: tuple[str, ...]) -> str:
    """One exact (agent_id, scope, period) index search per scope, as one statement."""
    return " UNION ALL ".join(
        f"SELECT {columns} FROM spend_counters WHERE agent_id = :agent_id AND scope = '{c}' AND period = :{c}"
        for c in scopes
    )


# The window counters of many agents (no task). As LEFT JOINs beside the state rows,
# PostgreSQL planned a hash join over a sequential scan of spend_counters per scope (33 ms
# for 100 agents of a 3,000-agent fleet).
_MANY_COUNTERS = _counter_reads("agent_id, scope, amount, held", COUNTER_SCOPES[:-1])


# Counters by exact key, many at once: (agent_id, scope, period) triples as three columns on
# PostgreSQL (``db/joined.py``), one JSON array of triples on SQLite; each probe is a
# primary-key search.
_COUNTERS_BY_KEY_PG = """
SELECT c.agent_id, c.scope, c.period, c.amount, c.held
FROM unnest(%b::text[], %b::text[], %b::text[]) AS k(a, s, p)
JOIN spend_counters c ON c.agent_id = k.a AND c.scope = k.s AND c.period = k.p"""
_COUNTERS_BY_KEY_SQLITE = """
SELECT c.agent_id, c.scope, c.period, c.amount, c.held
FROM json_each(?) AS k
JOIN spend_counters c ON c.agent_id = json_extract(k.value, '$[0]')
 AND c.scope = json_extract(k.value, '$[1]') AND c.period = json_extract(k.value, '$[2]')"""


def counters_by_key(
    conn: Connection, postgres: bool, keys: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(settled, held) of each existing counter among ``keys`` (agent_id, scope, period)."""
    found: dict[tuple[str, str, str], tuple[int, int]] = {}
    cur = raw(conn).cursor()
    for start in range(0, len(keys), 50_000):
        chunk = keys[start : start + 50_000]
        if postgres:
            joined.execute(cur, _COUNTERS_BY_KEY_PG, [list(column) for column in zip(*chunk, strict=True)])
        else:
            cur.execute(_COUNTERS_BY_KEY_SQLITE, (orjson.dumps(chunk).decode(),))
        for agent_id, scope, period, amount, held in cur.fetchall():
            found[(agent_id, scope, period)] = (int(amount), int(held))
    return found


def read_agents_with_counters(
    conn: Connection, postgres: bool, agent_ids: list[str], keys: dict[str, str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, tuple[int, int]]]]:
    """``lock_agent_with_counters`` for many agents and without the lock: the state, the
    agent and the window counters of each. For reads of many agents' money (a page of
    agents, the signals tick's dry run) that would otherwise cost two or three round trips
    per agent. Missing agents are absent from the result."""
    found = {
        row["id"]: (_split_state(row, row["id"]), row)
        for row in _rows_of_agents(conn, postgres, _LOCK, agent_ids, {}, lock=False)
    }
    counters: dict[str, dict[str, tuple[int, int]]] = {agent_id: {} for agent_id in found}
    for row in _rows_of_agents(conn, postgres, _MANY_COUNTERS, list(found), keys, lock=False, order=None):
        counters[row["agent_id"]][row["scope"]] = (int(row["amount"]), int(row["held"]))
    return {agent_id: (state, row, counters[agent_id]) for agent_id, (state, row) in found.items()}


def lock_agents(
    conn: Connection, postgres: bool, agent_ids: list[str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``lock_agent`` for many agents in one statement, locking in id order (so two bulk
    writers can never deadlock). Missing agents are absent from the result."""
    return {
        row["id"]: (_split_state(row, row["id"]), row)
        for row in _rows_of_agents(conn, postgres, _LOCK, agent_ids, {}, lock=True)
    }


def _rows_of_agents(
    conn: Connection,
    postgres: bool,
    text: str,
    agent_ids: list[str],
    params: dict[str, Any],
    *,
    lock: bool,
    order: str | None = "s.agent_id",
) -> Iterator[dict[str, Any]]:
    """A one-agent read (``… = :agent_id``) for many agents, 500 per statement in id order;
    ``lock`` takes their state rows' locks first (PostgreSQL). On PostgreSQL the ids go as
    one array parameter, so every chunk is the same statement text: prepared once and
    planned once (an ``IN`` list of 100 names cost ~5 ms of planning per statement)."""
    ordered = sorted(set(agent_ids))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        names: dict[str, Any]
        if postgres:
            if lock:
                raw(conn).execute(_PG_LOCK_MANY, {"agent_ids": chunk}).fetchall()
            many, names = _many_sql(text, order), {"agent_ids": chunk}
        else:
            names = {f"a{i}": agent_id for i, agent_id in enumerate(chunk)}
            in_chunk = f"IN ({', '.join(':' + n for n in names)})"
            many = text.replace("= :agent_id", in_chunk) + (f" ORDER BY {order}" if order else "")
        cur = raw(conn).execute(_sql(many, postgres), {**names, **params})
        columns = [d[0] for d in cur.description]
        for values in cur.fetchall():
            yield dict(zip(columns, values, strict=True))


@cache
def _many_sql(text: str, order: str | None) -> str:
    return text.replace("= :agent_id", "= ANY(:agent_ids)") + (f" ORDER BY {order}" if order else "")


_COUNTERS = _counter_reads("scope, period, amount, held", COUNTER_SCOPES)


def counters(
    conn: Connection, postgres: bool, agent_id: str, keys: dict[str, str], task_id: str | None
) -> dict[str, tuple[int, int]]:
    """(settled, held) per scope for the windows in ``keys`` and the task, in one query."""
    params = {"agent_id": agent_id, **keys, "per_task": task_id or ""}
    return {
        scope: (int(amount), int(held))
        for scope, _p, amount, held in fetch_all(conn, postgres, _COUNTERS, params)
    }


_ADD_HELD = """
INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)
VALUES (:agent_id, :scope, :period, 0, :held, 0)
ON CONFLICT (agent_id, scope, period) DO UPDATE SET held = spend_counters.held + excluded.held"""


def add_held(conn: Connection, postgres: bool, agent_id: str, scope: str, period: str, delta: int) -> None:
    execute(
        conn, postgres, _ADD_HELD, {"agent_id": agent_id, "scope": scope, "period": period, "held": delta}
    )


HOLD_COLUMNS = (
    "id", "agent_id", "amount", "status", "vendor", "rail", "tool", "model", "endpoint", "task_id", "user_id",
    "kind", "metadata", "created_at", "expires_at",
)  # fmt: skip
_INSERT_HOLD = (
    f"INSERT INTO holds ({', '.join(HOLD_COLUMNS)}) VALUES ({', '.join(':' + c for c in HOLD_COLUMNS)})"
)


def insert_hold(conn: Connection, postgres: bool, row: dict[str, Any]) -> None:
    execute(conn, postgres, _INSERT_HOLD, row)


@cache
def _update_state_sql(columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    return f"UPDATE agent_state SET {sets} WHERE agent_id = :agent_id"


def update_state(conn: Connection, postgres: bool, agent_id: str, values: dict[str, Any]) -> None:
    execute(conn, postgres, _update_state_sql(tuple(sorted(values))), {**values, "agent_id": agent_id})


def update_state_and_commit(conn: Connection, agent_id: str, values: dict[str, Any]) -> None:
    """PostgreSQL: a unit's state row update and its COMMIT in one pipeline, one round trip
    instead of two. An error in either is raised here, before the unit publishes anything,
    and the transaction rolls back."""
    dbapi = raw(conn)
    with dbapi.pipeline():
        dbapi.execute(_sql(_update_state_sql(tuple(sorted(values))), True), {**values, "agent_id": agent_id})
        dbapi.commit()


def update_states(
    conn: Connection, postgres: bool, columns: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """The same columns of many state rows, with one prepared statement."""
    if rows:
        raw(conn).cursor().executemany(_sql(_update_state_sql(columns), postgres), rows)


@cache
def _transaction_insert_sql(columns: tuple[str, ...]) -> str:
    return f"INSERT INTO transactions ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


@contextmanager
def transaction_rows(
    conn: Connection, postgres: bool, columns: tuple[str, ...]
) -> Iterator[Callable[[list[tuple[Any, ...]]], None]]:
    """``insert(rows)`` as the rows are made, all in the connection's transaction.

    PostgreSQL: one COPY, opened at the first rows; psycopg sends each full buffer as it
    fills, so the server parses and indexes rows while this thread makes the next ones
    (bulk ingest: the server's share used to be time this thread waited). psycopg's queued
    writer (a thread) was slower: it waits for the GIL behind the loop making the rows.
    Nothing else may use the connection until the block ends, which waits for the server
    to take the last row. SQLite: one prepared statement, each call an ``executemany``."""
    if not postgres:
        sql = _transaction_insert_sql(columns)
        cursor = raw(conn).cursor()
        yield lambda rows: cursor.executemany(sql, rows)
        return
    with ExitStack() as opened:
        write_row: Callable[[tuple[Any, ...]], None] | None = None

        def insert(rows: list[tuple[Any, ...]]) -> None:
            nonlocal write_row
            if not rows:
                return
            if write_row is None:
                cur = opened.enter_context(raw(conn).cursor())
                quoted = ", ".join(f'"{c}"' for c in columns)
                statement = f"COPY transactions ({quoted}) FROM STDIN"
                write_row = opened.enter_context(cur.copy(statement)).write_row
            for row in rows:
                write_row(row)

        yield insert


_ADD_SPEND = """
INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)
VALUES (:agent_id, :scope, :period, :amount, 0, :count)
ON CONFLICT (agent_id, scope, period) DO UPDATE
SET amount = spend_counters.amount + excluded.amount, count = spend_counters.count + excluded.count"""


def add_spend(conn: Connection, postgres: bool, rows: list[dict[str, Any]]) -> None:
    """Add (amount, count) to many counters with one prepared statement."""
    if rows:
        raw(conn).cursor().executemany(_sql(_ADD_SPEND, postgres), rows)
