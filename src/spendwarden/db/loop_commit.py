"""SQLite, on the event loop: the requests of one loop iteration decided in one transaction.

A lone SQLite commit costs more than an authorization's statements: measured on the raw
driver (a hold insert and a state update per unit, WAL, ``synchronous=NORMAL``), COMMIT
was ~40 µs for one unit and ~8 µs a unit for sixteen; BEGIN 4 µs and 0.3. Sharing it
between *threads* costs more than it saves (``db/group_commit.py``: the wake-ups), but the
fast HTTP route runs on the event loop's own thread, where nothing needs waking: the
requests that arrive together are handled in the same loop iteration.

So a request only queues its item (``submit``) and awaits a future. The first item of an
iteration schedules a flush with ``call_soon``, which runs once every request of the
iteration has queued its own. If others joined it, the loop is serving several requests at
once, and the batch waits one iteration more, so that the requests read in the next poll
join it too: over HTTP with 16 connections that took batches from ~7 to ~15 and the
throughput up ~12 %, for one loop iteration of latency; a lone request is decided at once.
The flush takes the writer without waiting (the loop must not block): if a thread holds
it, the flush tries again a moment later with the batch still open, and only if the
writer stays busy (``BUSY_WAIT_SECONDS``) is every caller told ``NOT_RUN`` and sent its
usual way. Then it begins a transaction, hands the whole batch to its ``BatchWork``
(which decides the items one after another and writes them with one statement per table,
``ledger/authorize_sqlite.py``), commits, and resolves each future with its item's
outcome. Deciding back to back, not interleaved with other requests' Python, keeps
SQLite's code and pages in the CPU's caches, and the batched writes save a statement and a
savepoint per item: together ~25 µs an authorization (``docs/BENCHMARKS.md``, stop 23).

Nothing is answered before its commit. If the work raises, the transaction is rolled
back and every caller is told ``NOT_RUN``: nothing of the batch was written, so each
request is decided again on its own, and one bad item cannot fail the others. If the
commit itself fails, every caller gets its error. The writer is held only inside the
flush, never between callbacks, so nothing else on the loop's thread can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import Connection

from spendwarden.db.group_commit import GroupCommitter

log = logging.getLogger(__name__)
I = TypeVar("I")  # noqa: E741 - an item of a batch
R = TypeVar("R")


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


# A flush that finds the writer busy in a thread (a checkpoint's last pass, the delivery
# worker's write) tries again this much later, the batch still open, for up to
# BUSY_WAIT_SECONDS; only then are its callers sent their usual way. Sent at once, they
# had gone to threads that queued for the writer, so the next batches found it busy
# too: under a steady 1,900 requests/s, 2-3 % of requests took that way and p99 went
# from ~9 to 30-60 ms.
BUSY_RETRY_SECONDS = 0.001
BUSY_WAIT_SECONDS = 0.05

# The future's answer when its item was not decided here: take the usual path.
NOT_RUN: Final = _NotRun()

# Decides a batch's items, in order, in the open transaction: one outcome per item. An
# outcome that is an exception is raised to that item's caller.
BatchWork = Callable[[Connection, Sequence[I]], Sequence[R | Exception]]


class _Queued(Generic[I, R]):
    __slots__ = ("busy_since", "futures", "items", "lingered", "loop", "work")

    def __init__(self, work: BatchWork[I, R], loop: asyncio.AbstractEventLoop) -> None:
        self.work = work
        self.loop = loop
        self.lingered = False
        self.busy_since: float | None = None  # when the flush first found the writer busy
        self.items: list[I] = []
        self.futures: list[asyncio.Future[R | _NotRun]] = []


class LoopCommitter:
    """Batches of the event loop's write requests, one transaction each; see the module
    docstring. One per ``Store`` (SQLite)."""

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer
        self._queued: dict[tuple[BatchWork[Any, Any], asyncio.AbstractEventLoop], _Queued[Any, Any]] = {}
        self.commits = 0  # transactions committed (the tests read it)
        self.units = 0  # items committed in them

    def submit(self, work: BatchWork[I, R], item: I) -> asyncio.Future[R | _NotRun]:
        """Queue ``item`` for this iteration's batch of ``work``: a future of its outcome,
        resolved once committed (``NOT_RUN``: not decided here, take the usual path)."""
        loop = asyncio.get_running_loop()
        queued = self._queued.get((work, loop))
        if queued is None:
            queued = self._queued[(work, loop)] = _Queued(work, loop)
            loop.call_soon(self._ripen, queued)
        future: asyncio.Future[R | _NotRun] = loop.create_future()
        queued.items.append(item)
        queued.futures.append(future)
        return future

    def _ripen(self, queued: _Queued[Any, Any]) -> None:
        """Decide the batch, or, if requests joined its first, wait one iteration more."""
        if len(queued.items) > 1 and not queued.lingered:
            queued.lingered = True
            queued.loop.call_soon(self._ripen, queued)
            return
        self._flush(queued)

    def _flush(self, queued: _Queued[Any, Any]) -> None:
        committer = self._committer
        taken = committer.take_writer()
        if not taken:
            now = queued.loop.time()
            since = queued.busy_since
            if since is None:
                since = queued.busy_since = now
            if now - since < BUSY_WAIT_SECONDS:
                queued.loop.call_later(BUSY_RETRY_SECONDS, self._flush, queued)  # still open: others join
                return
        del self._queued[(queued.work, queued.loop)]
        live = [(item, f) for item, f in zip(queued.items, queued.futures, strict=True) if not f.done()]
        futures = [f for _, f in live]
        if not taken:  # busy for long (a bulk import, say): the threads' queue is fair
            _answer(futures, [NOT_RUN] * len(futures))
            return
        if not live:  # every caller was cancelled: nothing to decide
            committer.give_back_writer()
            return
        items = [item for item, _ in live]
        try:
            outcomes = self._decide(queued.work, items)
        finally:
            committer.give_back_writer()
        _answer(futures, outcomes)

    def _decide(self, work: BatchWork[Any, Any], items: list[Any]) -> Sequence[Any]:
        """The batch's outcomes, committed; ``NOT_RUN`` for each when the work raised (rolled
        back); the commit's error for each when the commit failed (nothing was written). The
        writer is taken."""
        committer = self._committer
        try:
            batch = committer.open_batch()
        except Exception:  # the usual path meets the same trouble and reports it
            log.warning("could not begin the event loop's batch: its requests go their way", exc_info=True)
            return [NOT_RUN] * len(items)
        try:
            outcomes = work(batch.conn, items)
        except Exception:
            committer.end_batch(batch, commit=False)
            log.warning("a batch of the event loop's writes failed: its requests go their way", exc_info=True)
            return [NOT_RUN] * len(items)
        except BaseException:
            committer.end_batch(batch, commit=False)
            raise
        error = committer.end_batch(batch, commit=True)
        if error is not None:
            return [error] * len(items)
        self.commits += 1
        self.units += len(items)
        return outcomes


def _answer(futures: list[asyncio.Future[Any]], outcomes: Sequence[Any]) -> None:
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.done():  # its caller was cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
