"""The event loop's SQLite batches (``db/loop_commit.py``): the items queued in one loop
iteration are decided together in one transaction, each caller is answered only once it is
committed, an item's error is its caller's alone, a failing batch writes nothing and sends
every caller its usual way, a failing commit fails every caller, a writer busy for a moment
is waited for and one busy for long sends them their usual way, and the writer is never
held between the loop's callbacks."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from spendwarden.db.loop_commit import BUSY_WAIT_SECONDS, NOT_RUN, LoopCommitter
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


class Inserts:
    """A batch's work: insert each item's number with one statement; a negative number is
    refused as that item's own error; ``raise_after`` fails the whole batch after writing."""

    def __init__(self, *, raise_after: bool = False) -> None:
        self.raise_after = raise_after
        self.batches: list[list[int]] = []

    def __call__(self, conn: Connection, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.executemany("INSERT INTO probe (n) VALUES (?)", [(n,) for n in items if n >= 0])
        if self.raise_after:
            raise sqlite3.OperationalError("the batch broke after writing")
        return [ValueError(f"refused {n}") if n < 0 else n for n in items]


@contextmanager
def writer_held_by_a_thread(store: Store) -> Iterator[threading.Event]:
    """Another thread holds the writer until the event is set (or the block ends)."""
    taken, release = threading.Event(), threading.Event()

    def hold_writer() -> None:
        with store.write():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold_writer)
    holder.start()
    taken.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join()


async def answer(store: Store, work: Inserts, n: int) -> object:
    try:
        return await loop_writes(store).submit(work, n)
    except ValueError as exc:
        return str(exc)


def test_the_items_of_one_iteration_share_one_commit(store: Store) -> None:
    work = Inserts()

    async def main() -> list[object]:
        return await asyncio.gather(*(answer(store, work, n) for n in range(16)))

    assert asyncio.run(main()) == list(range(16))
    assert committed(store) == list(range(16))
    assert work.batches == [list(range(16))]  # decided together, in the order queued
    writes = loop_writes(store)
    assert (writes.commits, writes.units) == (1, 16)


def test_a_batch_that_others_joined_waits_one_iteration_for_more(store: Store) -> None:
    """Requests queued together mean the loop serves several at once: the batch stays open
    one iteration more, and the requests of that iteration join it; a lone request is
    decided in the next iteration."""
    work = Inserts()

    async def main() -> list[object]:
        writes = loop_writes(store)
        first = [writes.submit(work, n) for n in (1, 2)]
        await asyncio.sleep(0)  # the next iteration: the batch of two is still open
        later = writes.submit(work, 3)
        answers = [await f for f in (*first, later)]
        lone = writes.submit(work, 4)
        await asyncio.sleep(0)  # decided meanwhile, alone
        answers.append(await writes.submit(work, 5))
        answers.append(await lone)
        return answers

    assert asyncio.run(main()) == [1, 2, 3, 5, 4]
    assert work.batches == [[1, 2, 3], [4], [5]]


def test_nothing_is_answered_before_its_commit(store: Store) -> None:
    async def main() -> None:
        future = loop_writes(store).submit(Inserts(), 1)
        assert not future.done()
        assert committed(store) == []  # queued, not yet decided
        assert await future == 1
        assert committed(store) == [1]

    asyncio.run(main())


def test_an_items_error_is_its_callers_alone(store: Store) -> None:
    work = Inserts()

    async def main() -> list[object]:
        return await asyncio.gather(*(answer(store, work, n) for n in (1, -2, 3, -4, 5)))

    assert asyncio.run(main()) == [1, "refused -2", 3, "refused -4", 5]
    assert committed(store) == [1, 3, 5]


def test_a_failing_batch_writes_nothing_and_sends_each_caller_its_usual_way(store: Store) -> None:
    async def main() -> list[object]:
        work = Inserts(raise_after=True)
        return await asyncio.gather(*(answer(store, work, n) for n in range(4)))

    assert asyncio.run(main()) == [NOT_RUN] * 4
    assert committed(store) == []
    with store.write() as conn:  # the writer was given back
        conn.execute(text("INSERT INTO probe (n) VALUES (9)"))
    assert committed(store) == [9]


def test_a_failing_commit_fails_every_caller(store: Store) -> None:
    """A deferred foreign key is checked at COMMIT: the batch's statements all succeed and
    its commit fails; nobody is told it was written."""
    with store.write() as conn:
        conn.execute(
            text("CREATE TABLE child (n INTEGER REFERENCES probe (n) DEFERRABLE INITIALLY DEFERRED)")
        )
    writer: Any = store._writer().connection.dbapi_connection
    writer.execute("PRAGMA foreign_keys = ON")  # outside a transaction, or it is a no-op

    def orphans(conn: Connection, items: Sequence[int]) -> list[int]:
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.executemany("INSERT INTO child (n) VALUES (?)", [(n,) for n in items])
        return list(items)

    async def main() -> list[object]:
        async def one(n: int) -> object:
            try:
                return await loop_writes(store).submit(orphans, n)
            except sqlite3.IntegrityError as exc:
                return type(exc).__name__

        return await asyncio.gather(one(1), one(2))

    assert asyncio.run(main()) == ["IntegrityError", "IntegrityError"]
    assert loop_writes(store).commits == 0
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM child")).scalar() == 0


def test_a_batch_waits_for_a_writer_busy_for_a_moment(store: Store) -> None:
    """A thread's short write (a checkpoint's last pass, the delivery worker) keeps the
    batch open, and requests that come meanwhile join it; sent their usual way instead,
    they queued in threads and made the next batches find the writer busy too."""
    work = Inserts()
    with writer_held_by_a_thread(store) as release:

        async def main() -> list[object]:
            writes = loop_writes(store)
            first = writes.submit(work, 1)
            await asyncio.sleep(0.005)  # the flush found the writer busy: still open
            later = writes.submit(work, 2)
            threading.Timer(0.005, release.set).start()
            return [await first, await later]

        assert asyncio.run(main()) == [1, 2]
    assert work.batches == [[1, 2]] and committed(store) == [1, 2]


def test_a_writer_busy_for_long_sends_each_caller_its_usual_way(store: Store) -> None:
    """Past ``BUSY_WAIT_SECONDS`` (a bulk import holding the writer, say) the callers go
    their usual way: the threads' queue for the writer is fair."""
    work = Inserts()
    with writer_held_by_a_thread(store):

        async def main() -> list[object]:
            return await asyncio.gather(answer(store, work, 1), answer(store, work, 2))

        started = time.monotonic()
        assert asyncio.run(main()) == [NOT_RUN, NOT_RUN]
        assert time.monotonic() - started >= BUSY_WAIT_SECONDS  # it waited first
    assert committed(store) == [] and work.batches == []


def test_the_writer_is_free_between_the_loops_callbacks(store: Store) -> None:
    """Queued items hold nothing: a write on the loop's own thread meanwhile goes ahead
    (blocking, as any write) instead of waiting for a writer its loop would never give back."""

    async def main() -> None:
        future = loop_writes(store).submit(Inserts(), 1)
        with store.write() as conn:
            conn.execute(text("INSERT INTO probe (n) VALUES (2)"))
        assert committed(store) == [2]
        assert await future == 1

    asyncio.run(main())
    assert committed(store) == [1, 2]


def test_a_cancelled_callers_item_is_not_decided(store: Store) -> None:
    work = Inserts()

    async def main() -> list[object]:
        writes = loop_writes(store)
        futures = [writes.submit(work, n) for n in range(3)]
        futures[1].cancel()  # its client went away before the flush
        return [await futures[0], await futures[2]]

    assert asyncio.run(main()) == [0, 2]
    assert work.batches == [[0, 2]] and committed(store) == [0, 2]


def test_postgresql_has_no_loop_batches(database_url: str) -> None:
    """PostgreSQL's concurrent authorizations share a call instead (``db/pg_batch.py``)."""
    store = Store(database_url)
    try:
        assert (store.loop_writes is None) == store.is_postgres
    finally:
        store.dispose()


def test_a_loop_that_stops_before_its_flush_leaves_nothing_written_or_held(store: Store) -> None:
    """The loop stops before the callback that would decide the batch: none of its callers
    was answered, nothing was written, and closing the store does not wait for the writer."""
    loop = asyncio.new_event_loop()

    async def start() -> None:
        loop_writes(store).submit(Inserts(), 1)
        loop.stop()  # the flush was due in the next iteration

    task = loop.create_task(start())
    loop.run_forever()
    closing = threading.Thread(target=store.dispose)
    closing.start()
    closing.join(10)
    assert not closing.is_alive(), "dispose waited for a writer no one would give back"
    assert committed(store) == [] and task.done()
    loop.close()
