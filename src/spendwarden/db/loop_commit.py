"""SQLite, on the event loop: the authorizations of one loop iteration share a transaction.

A lone SQLite commit costs more than an authorization's statements: measured on the raw
driver (a hold insert and a state update per unit, WAL, ``synchronous=NORMAL``), COMMIT
was ~40 µs for one unit and ~8 µs a unit for sixteen; BEGIN 4 µs and 0.3. Sharing it
between *threads* costs more than it saves (``db/group_commit.py``: the wake-ups), but the
fast HTTP route runs its authorizations on the event loop's own thread, one after
another, where nothing needs waking: the requests that arrive together are handled in
the same loop iteration.

So the first write unit of an iteration takes the writer (without waiting: if another
thread holds it, the caller takes its usual path), begins a transaction and schedules its
commit with ``call_soon``; the units run in the same iteration join it, each in a
SAVEPOINT but the first (a unit that fails rolls back alone; a first unit that fails takes
the empty transaction with it). Each unit runs at once and its caller awaits a future
that the commit resolves, so nothing is answered before it is committed, and a failed
commit fails every unit in it. A lone request pays one loop iteration more than before.

While a batch is open the loop thread holds the writer lock between callbacks. Anything
else on the loop thread that would wait for that lock would wait forever, so
``GroupCommitter.unit`` refuses it (``LoopThreadHoldsWriter``) instead of hanging; the
request paths reach the writer through ``api.deps.run_db``, which sees the lock taken and
goes to a thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from spendwarden.db.group_commit import GroupCommitter

T = TypeVar("T")


class _LoopBatch(Generic[T]):
    __slots__ = ("batch", "loop", "size", "thread", "waiters")

    def __init__(self, batch: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.batch = batch
        self.loop = loop
        self.thread = threading.get_ident()
        self.size = 0
        self.waiters: list[tuple[asyncio.Future[T], T]] = []


class LoopCommitter:
    """Write units on the event loop that share the iteration's transaction; see the
    module docstring. One per ``Store`` (SQLite)."""

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer
        self._open: _LoopBatch[Any] | None = None
        self.commits = 0  # transactions committed (the tests read it)
        self.units = 0  # units committed in them

    def run(self, work: Callable[[Connection], T]) -> asyncio.Future[T] | None:
        """Run ``work`` now on the writer, in this iteration's transaction; answer a future
        of its result, resolved once committed. None: the writer is busy elsewhere (or
        this is not the loop that opened the batch), take the usual path. What ``work``
        raises is raised here, with its writes undone."""
        loop = asyncio.get_running_loop()
        open_ = self._open
        if open_ is None:
            open_ = self._begin(loop)
            if open_ is None:
                return None
        elif open_.loop is not loop:
            return None
        first = open_.size == 0
        dbapi = open_.batch.dbapi
        if not first:
            self._in_batch(open_, lambda: dbapi.execute("SAVEPOINT loop_unit"))
        try:
            result = work(open_.batch.conn)
        except BaseException:
            self._undo(open_, first)
            raise
        if not first:
            self._in_batch(open_, lambda: dbapi.execute("RELEASE loop_unit"))
        open_.size += 1
        future: asyncio.Future[T] = loop.create_future()
        open_.waiters.append((future, result))
        return future

    def _begin(self, loop: asyncio.AbstractEventLoop) -> _LoopBatch[Any] | None:
        committer = self._committer
        if not committer.take_writer():
            return None
        try:
            batch = committer.open_batch()
        except BaseException:
            committer.give_back_writer()
            raise
        open_ = self._open = _LoopBatch(batch, loop)
        committer.loop_thread = open_.thread
        loop.call_soon(self._commit, open_)
        return open_

    def _in_batch(self, open_: _LoopBatch[Any], statement: Callable[[], object]) -> None:
        """A savepoint's statement; if it fails, the transaction is in doubt: roll back
        and fail every unit in it."""
        try:
            statement()
        except BaseException as exc:
            self._close(open_, commit=False, error=exc)
            raise

    def abandon(self) -> None:
        """At shutdown: a batch whose loop stopped before its commit ran is rolled back
        (none of its callers was answered) and the writer let go, so closing the store
        does not wait for it forever."""
        open_ = self._open
        if open_ is not None and (open_.loop.is_closed() or not open_.loop.is_running()):
            self._close(open_, commit=False)

    def _undo(self, open_: _LoopBatch[Any], first: bool) -> None:
        """One failed unit's writes undone; a first unit's, with the transaction."""
        if first:
            self._close(open_, commit=False)
            return
        try:
            open_.batch.dbapi.execute("ROLLBACK TO loop_unit")
            open_.batch.dbapi.execute("RELEASE loop_unit")
        except BaseException as exc:  # the transaction itself is gone: fail the units in it
            self._close(open_, commit=False, error=exc)
            raise

    def _commit(self, open_: _LoopBatch[Any]) -> None:
        if self._open is open_:
            self._close(open_, commit=True)

    def _close(self, open_: _LoopBatch[Any], *, commit: bool, error: BaseException | None = None) -> None:
        self._open = None
        committer = self._committer
        error = committer.end_batch(open_.batch, commit=commit) or error
        committer.loop_thread = None
        committer.give_back_writer()
        if commit and error is None:
            self.commits += 1
            self.units += open_.size
        for future, result in open_.waiters:
            if future.done():  # its caller was cancelled
                continue
            if error is not None:
                future.set_exception(error)
            elif not commit:
                future.set_exception(RuntimeError("the shared transaction was rolled back"))
            else:
                future.set_result(result)
