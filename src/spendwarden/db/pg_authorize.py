"""PostgreSQL: call ``spendwarden_authorize`` (migrations 0008, 0009), one authorization
in one round trip, on an autocommit connection (the call is its own transaction), or
``spendwarden_authorize_batch`` (migrations 0010, 0011), many calls in one round trip and one
transaction (``db/pg_batch.py`` gathers them).

Blocking callers pass a psycopg connection. The fast HTTP route awaits a connection of
the event loop's own asyncpg pool (``AsyncConnections``), so the request never hops to a
thread: asyncpg because a call through psycopg's async connection cost ~340 µs of the
event loop's CPU here, asyncpg's ~160 µs (``bench``: measured side by side, 8 callers)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from spendwarden.db import joined
from spendwarden.db.hot import HOLD_COLUMNS
from spendwarden.db.pg_batch import AsyncBatcher, ThreadBatcher

# The function's arguments after the agent's texts, limits and periods: the hold row.
_HOLD_ARGS = tuple(c for c in HOLD_COLUMNS if c not in ("agent_id", "status"))
_BIGINT = {"amount", "created_at", "expires_at"}
_CALL = (
    "SELECT outcome, denied_cap, committed, caps, policy FROM spendwarden_authorize("
    "%b::text, %b::text, %b::text, %b::bigint[], %b::text[], "
    + ", ".join("%b::bigint" if c in _BIGINT else "%b::text" for c in _HOLD_ARGS)
    + ", %b::text)"
)

# ``%b``: psycopg sends the arguments in binary. Its text dumper decides each array
# element's quoting with a regular expression, and PostgreSQL parses the text back
# (``array_in``): both cost more than the binary form.
_BATCH = (
    "SELECT ordinal, outcome, denied_cap, committed, caps, policy FROM spendwarden_authorize_batch("
    "%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], "
    + ", ".join("%b::bigint[]" if c in _BIGINT else "%b::text[]" for c in _HOLD_ARGS)
    + ", %b::text[])"
)
_NO_LIMITS: list[int | None] = [None] * 7

# ``db/joined.py``: the batch's arrays as one text each, what the server and the blocking
# path send unless a value holds a separator.
_BATCH_JOINED = joined.split_sql(_BATCH)


def numbered(sql: str) -> str:
    """psycopg's ``%s``/``%b`` placeholders as asyncpg's ``$1, $2, …``."""
    count = iter(range(1, 1000))
    return re.sub(r"%[sb]", lambda _: f"${next(count)}", sql)


_CALL_NUMBERED = numbered(_CALL)
_BATCH_NUMBERED = numbered(_BATCH)
_BATCH_JOINED_NUMBERED = numbered(_BATCH_JOINED)


@dataclass(frozen=True, slots=True)
class DatabaseDecision:
    """``approved`` (the hold is written and committed), ``denied`` (``denied_cap``: an
    index into ``CAP_NAMES``), ``stale`` (the agent row no longer holds the texts the
    caller checked, or the agent is not active), ``key`` (the key passed is no longer the
    agent's, or revoked), ``policy`` (a caller that passed no texts: the agent has a
    policy, for the caller to check before it calls again with the texts) or ``missing``;
    nothing is written unless approved. A batch also answers ``busy`` (another transaction
    holds the agent): the call is then made alone (``db/pg_batch.py``), never answered.
    ``committed`` is what counted against each cap before this amount. ``caps_text`` and
    ``policy_text``: the agent row's, decided on, when the caller passed none (approved,
    denied or ``policy``)."""

    outcome: str
    denied_cap: int | None
    committed: list[int] | None
    caps_text: str | None = None
    policy_text: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizeCall:
    """One call's arguments: the agent's ``caps`` and ``policy`` texts as the caller checked
    them, with the limits it parsed from them in ``CAP_NAMES`` order (all three None: the
    caller has not read the agent, the function decides on its row); the hourly, daily,
    weekly and monthly counter keys of now; the row an approval inserts."""

    caps_text: str | None
    policy_text: str | None
    limits: list[int | None] | None
    periods: list[str]
    hold: dict[str, Any]
    key_hash: str | None = None  # the request's key, to be checked in the same call

    def args(self) -> list[Any]:
        hold = self.hold
        return [
            hold["agent_id"], self.caps_text, self.policy_text, self.limits, self.periods,
            *(hold[c] for c in _HOLD_ARGS), self.key_hash,
        ]  # fmt: skip


def batch_args(calls: list[AuthorizeCall]) -> list[Any]:
    """The arguments of ``spendwarden_authorize_batch``: each of a call's arguments as an
    array over the calls; the limits and the periods of every call end to end."""
    limits: list[int | None] = []
    periods: list[str] = []
    for call in calls:
        limits += _NO_LIMITS if call.limits is None else call.limits
        periods += call.periods
    holds = [call.hold for call in calls]
    return [
        [hold["agent_id"] for hold in holds], [call.caps_text for call in calls],
        [call.policy_text for call in calls], limits, periods,
        *([hold[c] for hold in holds] for c in _HOLD_ARGS), [call.key_hash for call in calls],
    ]  # fmt: skip


def joined_batch_args(calls: list[AuthorizeCall]) -> list[Any] | None:
    """``batch_args`` as one text per argument (``_BATCH_JOINED``), or None when they must
    go as arrays: a value holds a separator (a vendor name may hold anything)."""
    return joined.params(batch_args(calls))


def _decision(row: tuple[Any, ...]) -> DatabaseDecision:
    outcome, denied_cap, committed, caps_text, policy_text = row
    denied = None if denied_cap is None else denied_cap - 1
    return DatabaseDecision(outcome, denied, committed, caps_text, policy_text)


def authorize_in_database(dbapi: Any, call: AuthorizeCall) -> DatabaseDecision:
    return _decision(dbapi.execute(_CALL, call.args(), prepare=_prepares(dbapi)).fetchone())


async def authorize_in_database_async(conn: Any, call: AuthorizeCall) -> DatabaseDecision:
    """``authorize_in_database`` on a connection of ``AsyncConnections``."""
    row = await conn.fetchrow(_CALL_NUMBERED, *call.args())
    return _decision(tuple(row))


def authorize_batch_in_database(dbapi: Any, calls: list[AuthorizeCall]) -> list[DatabaseDecision]:
    """Each call's decision, in order, made in one transaction: the calls' own answers."""
    rows = joined.execute(dbapi, _BATCH, batch_args(calls), prepare=_prepares(dbapi)).fetchall()
    return _decisions(rows, len(calls))


async def authorize_batch_in_database_async(conn: Any, calls: list[AuthorizeCall]) -> list[DatabaseDecision]:
    """``authorize_batch_in_database`` on a connection of ``AsyncConnections``."""
    texts = joined_batch_args(calls)
    if texts is None:
        rows = await conn.fetch(_BATCH_NUMBERED, *batch_args(calls))
    else:
        rows = await conn.fetch(_BATCH_JOINED_NUMBERED, *texts)
    return _decisions([tuple(row) for row in rows], len(calls))


def _agent(call: AuthorizeCall) -> str:
    return call.hold["agent_id"]  # type: ignore[no-any-return]


def busy(decision: DatabaseDecision) -> bool:
    """A batch's call whose agent another transaction held: to be made alone."""
    return decision.outcome == "busy"


Decide = Callable[[AuthorizeCall], DatabaseDecision]


def blocking_decider(store: Any, batch_size: int) -> Decide:
    """How blocking callers make their calls, on autocommit connections of ``store``
    (``db.store.Store``): concurrent calls share a batch of up to ``batch_size``; 1, each
    alone."""

    def one(call: AuthorizeCall) -> DatabaseDecision:
        with store.autocommit() as dbapi:
            return authorize_in_database(dbapi, call)

    def many(calls: list[AuthorizeCall]) -> list[DatabaseDecision]:
        with store.autocommit() as dbapi:
            return authorize_batch_in_database(dbapi, calls)

    if batch_size <= 1:
        return one
    return ThreadBatcher(one, many, busy, max_batch=batch_size, key=_agent)


def _decisions(rows: list[Any], expected: int) -> list[DatabaseDecision]:
    if [row[0] for row in rows] != list(range(1, expected + 1)):
        raise RuntimeError(f"spendwarden_authorize_batch answered {len(rows)} rows for {expected} calls")
    return [_decision(tuple(row[1:])) for row in rows]


def _prepares(dbapi: Any) -> bool:
    """Prepared at once, unless the connection never prepares (``db_prepared_statements``)."""
    return dbapi.prepare_threshold is not None


class _FreeList:
    """A free list of asyncpg connections, up to ``size`` in use at once, opened as needed
    and kept. asyncpg's own pool cost ~70 µs of the event loop's CPU per acquire and
    release here (inactivity timers, a shielded release, a reset round trip unless
    overridden): as much as the batch call it wrapped, ~9 µs per authorization in batches
    of eight. These connections only ever run single statements in autocommit, which leave
    nothing behind, so a connection goes straight back, also after the server refused its
    statement; one that broke, or whose statement was cancelled mid-way, is closed instead."""

    def __init__(self, dsn: str, size: int, prepared_statements: bool = True) -> None:
        self._dsn = dsn
        # 0: asyncpg sends each statement unnamed, parsed again with its arguments in the
        # same message (what a transaction pooler needs); its default caches 100 prepared.
        self._statement_cache_size = 100 if prepared_statements else 0
        self._slots = asyncio.Semaphore(size)
        self._free: list[Any] = []
        self._open: set[Any] = set()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        async with self._slots:
            conn = None
            while self._free and conn is None:
                conn = self._free.pop()
                if conn.is_closed():  # the server ended it (a restart, say)
                    self._open.discard(conn)
                    conn = None
            if conn is None:
                conn = await asyncpg.connect(self._dsn, statement_cache_size=self._statement_cache_size)
                self._open.add(conn)
            try:
                yield conn
            except Exception as exc:  # the server's error (or the caller's, after it): fine
                if isinstance(exc, (asyncpg.InterfaceError, OSError)) or conn.is_closed():
                    self._drop(conn)
                else:
                    self._free.append(conn)
                raise
            except BaseException:  # cancelled mid-statement: its state is unknown
                self._drop(conn)
                raise
            self._free.append(conn)

    def _drop(self, conn: Any) -> None:
        self._open.discard(conn)
        conn.terminate()

    async def close(self) -> None:
        opened, self._open, self._free = self._open, set(), []
        for conn in opened:
            await conn.close()


class AsyncConnections:
    """asyncpg connections for one event loop, opened and closed with it (the app's
    lifespan): what the fast authorize route awaits instead of a thread. Each statement
    is its own transaction, as on the blocking path's autocommit connections; ``decide``
    makes an authorization's call, in a batch with the calls awaited at the same time
    (up to ``batch_size``)."""

    def __init__(
        self, sqlalchemy_url: str, size: int, batch_size: int = 1, *, prepared_statements: bool = True
    ) -> None:
        self._dsn = (
            make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._size = size
        self._prepared_statements = prepared_statements
        self._connections: _FreeList | None = None
        self.batcher: AsyncBatcher[AuthorizeCall, DatabaseDecision] | None = None
        if batch_size > 1:
            self.batcher = AsyncBatcher(self._one, self._many, busy, max_batch=batch_size)

    async def decide(self, call: AuthorizeCall) -> DatabaseDecision:
        if self.batcher is None:
            return await self._one(call)
        return await self.batcher(call)

    async def _one(self, call: AuthorizeCall) -> DatabaseDecision:
        async with self.connection() as conn:
            return await authorize_in_database_async(conn, call)

    async def _many(self, calls: list[AuthorizeCall]) -> list[DatabaseDecision]:
        async with self.connection() as conn:
            return await authorize_batch_in_database_async(conn, calls)

    async def open(self) -> None:
        """Open the first connection (a database that cannot be reached fails here, at start)."""
        self._connections = _FreeList(self._dsn, self._size, self._prepared_statements)
        async with self._connections.connection():
            pass

    async def close(self) -> None:
        if self._connections is not None:
            await self._connections.close()
            self._connections = None

    def connection(self) -> AbstractAsyncContextManager[Any]:
        """A connection of this loop's, for one statement."""
        assert self._connections is not None, "AsyncConnections used before open()"
        return self._connections.connection()
