"""PostgreSQL: the event loop's asyncpg connections (``db.pg_authorize.AsyncConnections``), a
free list instead of asyncpg's pool: a connection goes back after its statement, also after
the server refused it; one that broke or was cancelled mid-statement is closed and replaced;
never more than ``size`` in use at once; ``close`` closes them all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from spendwarden.db.pg_authorize import AsyncConnections

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@asynccontextmanager
async def _opened(database_url: str, size: int) -> AsyncIterator[AsyncConnections]:
    connections = AsyncConnections(database_url, size=size)
    await connections.open()
    try:
        yield connections
    finally:
        await connections.close()


async def _pid(connections: AsyncConnections) -> int:
    async with connections.connection() as conn:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))


def test_a_connection_is_reused_after_its_statement_and_after_a_refusal(database_url: str) -> None:
    async def run() -> None:
        async with _opened(database_url, 4) as connections:
            first = await _pid(connections)
            assert await _pid(connections) == first
            with pytest.raises(asyncpg.DivisionByZeroError):
                async with connections.connection() as conn:
                    await conn.fetchval("SELECT 1 / 0")
            with pytest.raises(LookupError):  # the caller's own error, after its statement
                async with connections.connection() as conn:
                    await conn.fetchval("SELECT 1")
                    raise LookupError
            assert await _pid(connections) == first

    asyncio.run(run())


def test_a_cancelled_or_broken_connection_is_replaced(database_url: str) -> None:
    async def run() -> None:
        async with _opened(database_url, 4) as connections:
            first = await _pid(connections)

            async def slow() -> None:
                async with connections.connection() as conn:
                    await conn.execute("SELECT pg_sleep(5)")

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(slow(), 0.2)
            second = await _pid(connections)
            assert second != first  # the cancelled one was closed, not handed out again
            other = await asyncpg.connect(connections._dsn)  # the server ends the free one
            await other.execute("SELECT pg_terminate_backend($1)", second)
            await other.close()
            await asyncio.sleep(0.2)  # for the loop to see the socket close
            assert await _pid(connections) not in (first, second)

    asyncio.run(run())


def test_never_more_than_size_at_once_and_close_closes_all(database_url: str) -> None:
    async def run() -> None:
        connections = AsyncConnections(database_url, size=3)
        await connections.open()
        in_use, most = 0, 0

        async def hold() -> None:
            nonlocal in_use, most
            async with connections.connection() as conn:
                in_use += 1
                most = max(most, in_use)
                await conn.execute("SELECT pg_sleep(0.05)")
                in_use -= 1

        await asyncio.gather(*(hold() for _ in range(10)))
        assert most == 3
        opened: set[Any] = set(connections._connections._open)  # type: ignore[union-attr]
        assert len(opened) == 3
        await connections.close()
        assert all(conn.is_closed() for conn in opened)

    asyncio.run(run())
