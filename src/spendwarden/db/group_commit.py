"""Group commit for SQLite's one writer: concurrent write units share one transaction.

With ``synchronous=FULL`` a SQLite commit waits for an fsync, which costs more than an
authorization's own statements, and one writer means units queue for it anyway. So a unit
that finishes while others are already waiting for the writer leaves the transaction open
for them; the unit that finds nobody waiting (or a full batch) commits for all. Each unit
runs in a SAVEPOINT, so one that fails rolls back alone; every caller returns only after
the commit that holds its unit, so nothing is acknowledged before it is durable, and a
failed commit fails every unit in it. With a single caller this is exactly one transaction per unit.

With ``synchronous=NORMAL`` (the default) a commit is a WAL append without fsync, ~40 µs,
and sharing it costs more than it saves: waiting for a batch's commit, the savepoints and
the wake-ups of many threads at once made 2 to 16 in-process threads 1.6-2x slower than
committing each unit on its own. ``Store`` then builds this with ``max_batch=1``: every
unit is its own transaction, and callers simply queue for the writer.

The batch's transaction is opened and ended on the driver connection (``BEGIN IMMEDIATE``,
``COMMIT``): SQLAlchemy's begin/commit bookkeeping cost ~40 µs per unit, more than an
authorization's statements. A unit that runs SQLAlchemy statements makes SQLAlchemy
autobegin on top (the begin hook sees the driver already in a transaction and does
nothing); such a batch then ends through SQLAlchemy, so both agree it is closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection


class _Batch:
    """One open transaction and the units it holds."""

    __slots__ = ("conn", "dbapi", "done", "error", "size")

    def __init__(self, conn: Connection, dbapi: Any) -> None:
        self.conn = conn
        self.dbapi = dbapi
        dbapi.execute("BEGIN IMMEDIATE")
        # Made (under the writer lock) only for a unit that must wait for someone else's
        # commit: a unit that commits its own batch, as every lone caller does, needs none.
        self.done: threading.Event | None = None
        self.error: BaseException | None = None
        self.size = 0

    def waiter(self) -> threading.Event:
        if self.done is None:
            self.done = threading.Event()
        return self.done

    def finish(self, error: BaseException | None) -> None:
        """Release every unit waiting for this batch, with ``error`` if it failed."""
        self.error = error
        if self.done is not None:
            self.done.set()

    def end(self, *, commit: bool) -> None:
        if self.conn.in_transaction():  # SQLAlchemy autobegan inside: end it its way
            if commit:
                self.conn.commit()
            else:
                self.conn.rollback()
        elif commit:
            self.dbapi.commit()
        else:
            self.dbapi.rollback()


class GroupCommitter:
    """Hands out write units on the writer connection; see the module docstring."""

    def __init__(
        self,
        lock: threading.Lock,
        connect: Callable[[], Connection],
        max_batch: int = 256,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._lock = lock
        self._on_commit = on_commit
        self._connect = connect
        self._max_batch = max_batch
        self._waiting = 0
        self._count_lock = threading.Lock()
        self._batch: _Batch | None = None
        self._released = 0  # units the last commit released
        self._others_waiting = 0  # threads queued in ``writer_held``

    def take_writer(self) -> bool:
        """The writer without waiting, with no batch of the threads' open; False: busy."""
        if not self._lock.acquire(blocking=False):
            return False
        if self._batch is not None or self._waiting or self._others_waiting:  # threads queued: theirs first
            self._lock.release()
            return False
        return True

    @contextmanager
    def writer_held(self) -> Iterator[None]:
        """The writer's lock, for work on another connection that must not overlap a write
        (``db/checkpoint.py``). Counted apart from the units (which join an open batch and
        may commit it; this does neither), so the event loop's batches wait for it too."""
        self._acquire(unit=False)
        try:
            yield
        finally:
            self._lock.release()

    def _acquire(self, *, unit: bool) -> None:
        """The writer's lock, counted as queued while waiting for it: a unit (which may join
        an open batch and commit it) or another holder (``writer_held``)."""
        with self._count_lock:
            if unit:
                self._waiting += 1
            else:
                self._others_waiting += 1
        self._lock.acquire()
        with self._count_lock:
            if unit:
                self._waiting -= 1
            else:
                self._others_waiting -= 1

    def give_back_writer(self) -> None:
        self._lock.release()

    def open_batch(self) -> _Batch:
        """A transaction on the writer, for a caller that took it with ``take_writer``."""
        conn = self._connect()
        return _Batch(conn, conn.connection.dbapi_connection)

    def end_batch(self, batch: _Batch, *, commit: bool) -> BaseException | None:
        """End a batch taken with ``take_writer`` and ``open_batch`` (the writer stays
        taken); answer the error that ended it, if any (it was rolled back)."""
        try:
            batch.end(commit=commit)
            if commit and self._on_commit is not None:
                self._on_commit()
        except BaseException as exc:
            try:
                batch.end(commit=False)
            except Exception:  # the commit's own error is the one to report
                pass
            return exc
        return None

    @contextmanager
    def unit(self) -> Iterator[Connection]:
        self._acquire(unit=True)
        try:
            conn = self._connect()
            dbapi: Any = conn.connection.dbapi_connection
            batch = self._batch
            first = batch is None
            if batch is None:
                batch = self._batch = _Batch(conn, dbapi)
            try:
                if not first:
                    dbapi.execute("SAVEPOINT unit")
            except BaseException as exc:  # others may wait on this batch: never leave it open
                self._close(batch, rollback=True, error=exc)
                raise
            try:
                yield conn
            except BaseException:
                self._undo(batch, dbapi, first)
                raise
            try:
                if not first:
                    dbapi.execute("RELEASE unit")
            except BaseException as exc:
                self._close(batch, rollback=True, error=exc)
                raise
            batch.size += 1
            self._maybe_commit(batch)
            done = batch.waiter() if self._batch is batch else None  # still open: wait for it
        finally:
            self._lock.release()
        if done is not None:
            done.wait()
        if batch.error is not None:
            raise batch.error

    def _undo(self, batch: _Batch, dbapi: Any, first: bool) -> None:
        """Roll back one failed unit and leave the others in the batch as they were."""
        if first:  # the transaction holds only this unit
            self._close(batch, rollback=True, error=None)
            return
        try:
            dbapi.execute("ROLLBACK TO unit")
            dbapi.execute("RELEASE unit")
        except BaseException as exc:  # the transaction itself is gone: fail the whole batch
            self._close(batch, rollback=True, error=exc)
            return
        self._maybe_commit(batch)

    def _maybe_commit(self, batch: _Batch) -> None:
        if batch.size < self._max_batch and self._waiting == 0 and self._released > 1:
            # Nobody queued yet, but the previous commit released several callers: yield the
            # writer (and the GIL) once, so those just waking up can join this batch before
            # it commits. Counted as waiting meanwhile, so a unit that joins leaves the
            # commit to us. A lone caller never pays for this.
            with self._count_lock:
                self._waiting += 1
            self._lock.release()
            time.sleep(0)
            self._lock.acquire()
            with self._count_lock:
                self._waiting -= 1
            if self._batch is not batch:  # a full batch was committed by a joiner
                return
        if self._waiting == 0 or batch.size >= self._max_batch:
            self._close(batch, rollback=False, error=None)

    def _close(self, batch: _Batch, *, rollback: bool, error: BaseException | None) -> None:
        self._batch = None
        self._released = batch.size
        try:
            ended = self.end_batch(batch, commit=not rollback)  # always: it ends the transaction
            error = error or ended
        finally:
            batch.finish(error)
