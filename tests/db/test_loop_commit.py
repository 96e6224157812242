"""The event loop's SQLite writes (``db/loop_commit.py``): the units run in one loop
iteration share one transaction, each caller is answered only once it is committed, a
failing unit rolls back alone, a busy writer sends the caller its usual way, and nothing on
the loop's thread can wait for the writer the loop holds."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from spendwarden.db.group_commit import LoopThreadHoldsWriter
from spendwarden.db.loop_commit import LoopCommitter
from spendwarden.db.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'loop.db'}")
    with s.write() as conn:
        conn.execute(text("CREATE TABLE probe (n INTEGER PRIMARY KEY)"))
    yield s
    s.dispose()


def loop_writes(store: Store) -> LoopCommitter:
    assert store.loop_writes is not None
    return store.loop_writes


def committed(store: Store) -> list[int]:
    """The rows another connection sees: what is committed."""
    database = store.engines.write.url.database
    assert database is not None
    with sqlite3.connect(database) as conn:
        return sorted(n for (n,) in conn.execute("SELECT n FROM probe"))


def insert(n: int, *, twice: bool = False) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.execute("INSERT INTO probe (n) VALUES (?)", (n,))
        if twice:  # the primary key refuses it: this unit fails after writing
            dbapi.execute("INSERT INTO probe (n) VALUES (?)", (n,))
        return n

    return work


async def unit(store: Store, n: int, *, twice: bool = False) -> int | str:
    try:
        future = loop_writes(store).run(insert(n, twice=twice))
    except sqlite3.IntegrityError:
        return "failed"
    assert future is not None
    return await future


def test_units_of_one_iteration_share_one_commit(store: Store) -> None:
    async def main() -> list[int | str]:
        return await asyncio.gather(*(unit(store, n) for n in range(16)))

    assert asyncio.run(main()) == list(range(16))
    assert committed(store) == list(range(16))
    writes = loop_writes(store)
    assert (writes.commits, writes.units) == (1, 16)


def test_nothing_is_answered_before_its_commit(store: Store) -> None:
    async def main() -> None:
        future = loop_writes(store).run(insert(1))
        assert future is not None
        assert not future.done()
        assert committed(store) == []  # written, not committed: the caller still waits
        assert await future == 1
        assert committed(store) == [1]

    asyncio.run(main())


def test_a_failing_unit_rolls_back_alone(store: Store) -> None:
    async def main() -> list[int | str]:
        return await asyncio.gather(*(unit(store, n, twice=n % 3 == 1) for n in range(12)))

    answers = asyncio.run(main())
    assert answers == ["failed" if n % 3 == 1 else n for n in range(12)]
    assert committed(store) == [n for n in range(12) if n % 3 != 1]


def test_a_failing_first_unit_takes_only_itself(store: Store) -> None:
    async def main() -> list[int | str]:
        return list(await asyncio.gather(unit(store, 0, twice=True), unit(store, 1), unit(store, 2)))

    assert asyncio.run(main()) == ["failed", 1, 2]
    assert committed(store) == [1, 2]


def test_a_busy_writer_sends_the_caller_its_usual_way(store: Store) -> None:
    taken, release = threading.Event(), threading.Event()

    def hold_writer() -> None:
        with store.write():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold_writer)
    holder.start()
    taken.wait(10)
    try:

        async def main() -> object:
            return loop_writes(store).run(insert(1))

        assert asyncio.run(main()) is None
    finally:
        release.set()
        holder.join()
    assert committed(store) == []


def test_a_write_on_the_loop_thread_meanwhile_is_refused_not_hung(store: Store) -> None:
    async def main() -> None:
        future = loop_writes(store).run(insert(1))
        assert future is not None
        with pytest.raises(LoopThreadHoldsWriter), store.write():
            pass
        assert await future == 1

    asyncio.run(main())
    with store.write() as conn:  # the writer is free again once the loop committed
        conn.execute(text("INSERT INTO probe (n) VALUES (2)"))
    assert committed(store) == [1, 2]


def test_postgresql_has_no_loop_batches(database_url: str) -> None:
    """PostgreSQL's concurrent authorizations share a call instead (``db/pg_batch.py``)."""
    store = Store(database_url)
    try:
        assert (store.loop_writes is None) == store.is_postgres
    finally:
        store.dispose()


def test_a_batch_whose_loop_stopped_is_rolled_back_when_the_store_closes(store: Store) -> None:
    """The loop stops before the iteration that would commit: none of the batch's callers
    was answered; closing the store rolls it back instead of waiting for the writer."""
    loop = asyncio.new_event_loop()

    async def start() -> None:
        assert loop_writes(store).run(insert(1)) is not None
        loop.stop()  # the commit was due in the next iteration

    task = loop.create_task(start())
    loop.run_forever()
    closing = threading.Thread(target=store.dispose)
    closing.start()
    closing.join(10)
    assert not closing.is_alive(), "dispose waited for a writer no one would give back"
    assert committed(store) == [] and task.done()
    loop.close()
