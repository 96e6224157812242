"""Authorizations awaited on an event loop, with no thread hop, for any caller on the loop:
the fast HTTP route (``api/fast.py``) and the SDK's ``AsyncClient`` in embedded mode.

- **PostgreSQL:** ``spendwarden_authorize`` awaited on the loop's own asyncpg connections
  (``db.pg_authorize.AsyncConnections``), in one batch and one commit with the calls
  awaited at the same time (``db/pg_batch.py``).
- **SQLite:** the lean decision, in this loop iteration's batch on the writer
  (``db/loop_commit.py``).

Whatever these do not decide (an idempotency key, a halted agent, a policy refusal, the
writer busy in a thread) goes to the locked path, ``Ledger.authorize``, by ``run_db``.
A thread costs more than an authorization, so an asyncio program that authorizes from
many tasks gets more from one loop than from a pool of threads (``bench/authorize.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import anyio

from spendwarden.db.pg_authorize import AsyncConnections
from spendwarden.ledger.approval import approved
from spendwarden.ledger.authorize_pg import try_authorize_async
from spendwarden.ledger.holds import in_database
from spendwarden.ledger.service import Ledger
from spendwarden.ledger.types import AuthorizeRequest

T = TypeVar("T")


async def run_db(ledger: Ledger, work: Callable[[], T]) -> T:
    """Run blocking database work for a caller on the loop. SQLite answers in microseconds,
    so the work runs inline (a thread-pool hop costs more than the SQL) unless its one
    writer is busy (a bulk batch), when waiting inline would stall the event loop;
    PostgreSQL waits on the network, so its work goes to the thread pool and callers
    overlap."""
    if ledger.store.is_postgres or ledger.store.engines.write_lock.locked():
        return await anyio.to_thread.run_sync(work)
    return work()


async def open_loop_connections(ledger: Ledger) -> AsyncConnections | None:
    """This loop's PostgreSQL connections for ``decide_on_loop``, opened; None when
    authorizations do not go to the database function (SQLite, or
    ``authorize_in_database`` off)."""
    if not in_database(ledger.core):
        return None
    settings = ledger.core.settings
    connections = AsyncConnections(
        ledger.store.url,
        settings.db_pool_size,
        settings.authorize_batch_size,
        prepared_statements=ledger.store.prepared_statements,
    )
    await connections.open()
    return connections


async def decide_on_loop(
    ledger: Ledger,
    connections: AsyncConnections | None,
    agent_id: str,
    req: AuthorizeRequest,
    key_hash: str | None = None,
) -> dict[str, Any] | None:
    """The approval's answer or a raised domain error, decided on the loop; None when the
    locked path must decide. ``key_hash``: the caller's key, checked in the same decision
    (``KeyRefused`` if it is no longer the agent's). ``connections``: PostgreSQL's, opened
    on this loop (None on PostgreSQL: nothing is decided here)."""
    if connections is not None:
        return await try_authorize_async(ledger.core, connections.decide, agent_id, req, key_hash=key_hash)
    if ledger.store.is_postgres:
        return None
    loop_writes = ledger.store.loop_writes
    if loop_writes is not None:
        outcome = await loop_writes.submit(ledger.decide_lean, (agent_id, req, key_hash))
        if outcome is None:  # not a plain approval or denial
            return None
        if isinstance(outcome, tuple):
            return approved(*outcome)
    # off, or NOT_RUN (the writer was busy in a thread): its own transaction
    return await run_db(ledger, lambda: ledger.authorize(agent_id, req, key_hash=key_hash))


class _LoopShare:
    """One ledger's PostgreSQL connections on one loop, and how many authorizers use them."""

    def __init__(self) -> None:
        self.opening = asyncio.Lock()
        self.connections: AsyncConnections | None = None
        self.users = 0


# The authorizers of one loop (every embedded ``AsyncClient`` an asyncio program holds, one
# per agent, say) share one set of connections: a fleet of clients does not open a pool
# each, and their calls share batches and commits. Weak: an ended loop or a dropped ledger
# takes its entry along.
_shares: WeakKeyDictionary[Ledger, WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopShare]] = (
    WeakKeyDictionary()
)


async def _acquire(ledger: Ledger) -> AsyncConnections | None:
    """This loop's connections of ``ledger``, opened by the first user; one more user."""
    loop = asyncio.get_running_loop()
    share = _shares.setdefault(ledger, WeakKeyDictionary()).setdefault(loop, _LoopShare())
    async with share.opening:
        if share.connections is None:
            share.connections = await open_loop_connections(ledger)
        share.users += 1
        return share.connections


async def _release(ledger: Ledger, loop: asyncio.AbstractEventLoop, connections: AsyncConnections) -> None:
    """One user fewer; the last one closes them (awaited on their loop, let go elsewhere)."""
    of_ledger = _shares.get(ledger)
    share = of_ledger.get(loop) if of_ledger is not None else None
    if share is None or share.connections is not connections:
        return
    share.users -= 1
    if share.users > 0:
        return
    del of_ledger[loop]  # type: ignore[union-attr]
    if asyncio.get_running_loop() is loop:
        await connections.close()


class LoopAuthorizer:
    """``Ledger.authorize`` for the tasks of one event loop, in process. On PostgreSQL it
    uses the loop's connections of the ledger, opened by the first authorizer on that loop
    and closed when the last one closes (``aclose``); a call from any other loop takes the
    locked path in a thread."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: AsyncConnections | None = None
        self._opening: asyncio.Lock | None = None

    def on_its_loop(self) -> bool:
        """Whether the running loop is this authorizer's (the first that used it)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        return loop is self._loop

    async def decide(
        self, agent_id: str, req: AuthorizeRequest, key_hash: str | None = None
    ) -> dict[str, Any] | None:
        """``decide_on_loop`` with this loop's connections (call it on its loop)."""
        connections = await self._connections_of_loop()
        return await decide_on_loop(self.ledger, connections, agent_id, req, key_hash)

    async def authorize(
        self, agent_id: str, req: AuthorizeRequest, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """As ``Ledger.authorize``: the answer, or the domain error raised."""
        tried = idempotency_key is None and self.on_its_loop()
        if tried:
            result = await self.decide(agent_id, req)
            if result is not None:
                return result
        ledger = self.ledger
        return await run_db(
            ledger, lambda: ledger.authorize(agent_id, req, idempotency_key, try_fast_path=not tried)
        )

    async def _connections_of_loop(self) -> AsyncConnections | None:
        if self._connections is None and in_database(self.ledger.core):
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._connections is None:
                    self._connections = await _acquire(self.ledger)
        return self._connections

    async def aclose(self) -> None:
        """Give up its share of the loop's connections: the last authorizer to go closes
        them. Called from another loop (its own has ended, say), it lets them go: they
        cannot be awaited there."""
        connections, self._connections = self._connections, None
        if connections is not None and self._loop is not None:
            await _release(self.ledger, self._loop, connections)
