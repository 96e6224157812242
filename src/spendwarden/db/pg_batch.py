"""Calls that arrive together share one round trip and one commit (PostgreSQL).

Every ``spendwarden_authorize`` call is its own transaction, and a commit waits for the WAL
flush: that flush, not the decision, bounds how many authorizations a second PostgreSQL
takes (one caller ~3,000-5,000/s here, sixteen ~8,000/s). ``spendwarden_authorize_batch``
(migration 0010) makes many calls in one transaction. These batchers gather them without
a timer, as a group commit does: a call made while fewer than ``in_flight`` batches are
under way goes at once (on the event loop: at the end of the loop's iteration), so a lone
caller waits for nobody and makes the single call, exactly as before; calls made meanwhile
queue, and the next batch takes up to ``max_batch`` of them. The busier the server, the
bigger the batches.

Each caller gets its own call's answer, only after the transaction that holds it has
committed. If the batch fails, nothing of it was written, and each call is made alone (its
error, if any, goes to its own caller). A call the batch leaves to be made alone (``alone``:
its agent was busy in another transaction) is made alone after the batch, so it waits for
that lock without holding up the others.

``ThreadBatcher`` serves blocking callers (the ledger, from threads): the first caller
leads, making the batch on its own thread, and hands the lead to the first caller still
queued when done, so no thread is added and nobody waits for a thread switch when alone.
``AsyncBatcher`` serves the event loop (the fast HTTP route): the calls made in one
iteration of the loop go together, and a second batch starts beside the one under way only
once it would be as big.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

Call = TypeVar("Call")
Answer = TypeVar("Answer")
# A queued call of the event loop, and where its answer goes.
_Queued = tuple[Call, "asyncio.Future[Answer]"]

# Batches under way at once, at most. Threads: two, so that one is made while the other
# waits for its commit (16 threads in process: 5,400/s with one, 5,800-6,100/s with two).
# The event loop: two, but the second only starts when as many calls are queued as the
# batch under way holds (``AsyncBatcher._may_start``). Under wrk (16 connections) that made
# 5,155-5,221 requests/s, against 4,033-4,744 with one batch at a time (whatever arrived
# meanwhile waited for it, and the server idled 15 %) and 4,000-4,200 with two started as
# soon as anything was queued (smaller batches, more commits).
THREAD_IN_FLIGHT = 2
LOOP_IN_FLIGHT = 2


class _Slot:
    """One caller's call, and its answer once made."""

    __slots__ = ("answer", "call", "done", "error", "lead", "sleeping", "wake")

    def __init__(self, call: Any) -> None:
        self.call = call
        self.answer: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = 0  # leads handed to this caller and not yet taken: make a batch for each
        # A caller with nothing to do sleeps on ``wake``, a lock it cannot take until another
        # thread releases it (once per sleep: ``sleeping`` says whether it is owed a release).
        # A bare lock, not a ``threading.Event``: an Event's wait and set run several
        # Python-level steps each, and in process that was a third of an authorization.
        self.sleeping = False
        self.wake: Any = None


class ThreadBatcher(Generic[Call, Answer]):
    """Blocking callers' calls, batched; ``batcher(call)`` answers the call.

    ``key``: what a call locks (its agent). With batches in flight side by side, a call
    whose key is in one of them waits for the next batch instead of joining another: the
    other batch would find that agent busy and send the call alone, a round trip and a
    commit of its own (with 64 threads over 100 agents, a call in twenty)."""

    def __init__(
        self,
        one: Callable[[Call], Answer],
        many: Callable[[list[Call]], list[Answer]],
        alone: Callable[[Answer], bool],
        *,
        max_batch: int,
        in_flight: int = THREAD_IN_FLIGHT,
        key: Callable[[Call], Hashable] | None = None,
    ) -> None:
        self._one, self._many, self._alone = one, many, alone
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._key = key
        self._flying: Counter[Hashable] = Counter()  # keys of the batches under way
        self._lock = threading.Lock()
        self._queued: list[_Slot] = []
        self._leaders = 0
        self.batches = 0  # batches of more than one call made (for tests and benchmarks)
        self.batched = 0  # calls they held

    def __call__(self, call: Call) -> Answer:
        slot = _Slot(call)
        with self._lock:
            self._queued.append(slot)
            if self._leaders < self._in_flight:
                self._leaders += 1
                slot.lead = 1
        while True:
            with self._lock:
                lead = slot.lead > 0
                if lead:
                    slot.lead -= 1
                else:
                    if slot.done:
                        break
                    if slot.wake is None:
                        slot.wake = threading.Lock()
                        slot.wake.acquire()
                    slot.sleeping = True
            if lead:  # possibly after another leader made this caller's call: lead anyway
                self._lead()
            else:
                slot.wake.acquire()  # until a leader answers, or hands it the lead
        if slot.error is not None:
            raise slot.error
        return slot.answer  # type: ignore[no-any-return]

    def _lead(self) -> None:
        """Make one batch of what is queued, then hand the lead on (or give it up)."""
        with self._lock:
            batch, keys = self._take()
            if not batch:  # all queued wait for batches under way, whose leaders hand on
                self._leaders -= 1
                return
        later = self._make(batch)
        waking = []
        with self._lock:
            for key in keys:
                self._flying[key] -= 1
                if not self._flying[key]:
                    del self._flying[key]
            for slot in batch:
                if slot not in later:
                    slot.done = True
                    waking.append(slot)
            # the first caller still queued that holds no lead yet (two leaders finishing
            # together must not hand both leads to one caller that has not woken yet)
            successor = next((s for s in self._queued if not s.lead), None)
            if successor is None and self._queued:
                successor = self._queued[0]
            if successor is not None:
                successor.lead += 1
                waking.append(successor)
            else:
                self._leaders -= 1
            waking = [slot for slot in waking if _roused(slot)]
        for slot in waking:
            slot.wake.release()
        for slot in later:  # after the others are answered and the lead is handed on
            _answer(slot, self._one)
            with self._lock:
                slot.done = True
                roused = _roused(slot)
            if roused:
                slot.wake.release()

    def _take(self) -> tuple[list[_Slot], list[Hashable]]:
        """Under the lock: the next batch (queued order, up to ``max_batch``, no call whose
        key is in a batch under way) and its keys, now under way too."""
        if self._key is None:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
            return batch, []
        batch, waiting, keys = [], [], []
        for slot in self._queued:
            key = self._key(slot.call)
            if len(batch) < self._max_batch and not self._flying[key]:
                batch.append(slot)
                keys.append(key)
            else:
                waiting.append(slot)
        self._queued = waiting
        self._flying.update(keys)
        return batch, keys

    def _make(self, batch: list[_Slot]) -> list[_Slot]:
        """Answer the batch's calls; those left to be made alone are returned."""
        if len(batch) == 1:
            _answer(batch[0], self._one)
            return []
        try:
            answers = self._many([slot.call for slot in batch])
        except Exception:  # nothing of the batch was written: each call alone
            for slot in batch:
                _answer(slot, self._one)
            return []
        self.batches += 1
        self.batched += len(batch)
        later = []
        for slot, answer in zip(batch, answers, strict=True):
            if self._alone(answer):
                later.append(slot)
            else:
                slot.answer = answer
        return later


def _roused(slot: _Slot) -> bool:
    """Under the batcher's lock: whether ``slot`` sleeps and is now owed its release."""
    if not slot.sleeping:
        return False
    slot.sleeping = False
    return True


def _answer(slot: _Slot, one: Callable[[Any], Any]) -> None:
    try:
        slot.answer = one(slot.call)
    except Exception as exc:
        slot.error = exc


class AsyncBatcher(Generic[Call, Answer]):
    """The event loop's calls, batched; ``await batcher(call)`` answers the call. Made on
    the loop it is first awaited on."""

    def __init__(
        self,
        one: Callable[[Call], Awaitable[Answer]],
        many: Callable[[list[Call]], Awaitable[list[Answer]]],
        alone: Callable[[Answer], bool],
        *,
        max_batch: int,
        in_flight: int = LOOP_IN_FLIGHT,
    ) -> None:
        self._one, self._many, self._alone = one, many, alone
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._queued: list[_Queued[Call, Answer]] = []
        self._under_way: list[int] = []  # sizes of the batches under way
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.batched = 0

    async def __call__(self, call: Call) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queued.append((call, future))
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start batches at the end of this iteration of the loop, so that every call made
        in it can join."""
        if not self._scheduled and self._may_start():
            self._scheduled = True
            loop.call_soon(self._start, loop)

    def _may_start(self) -> bool:
        """Whether a batch may start now: none is under way, or (below ``in_flight``) the
        queued calls are at least as many as in the smallest batch under way. At a trickle a
        request then goes at once, beside the one under way; under load everything that
        arrives while a big batch is under way waits to form the next big one."""
        if not self._queued:
            return False
        if not self._under_way:
            return True
        return len(self._under_way) < self._in_flight and len(self._queued) >= min(self._under_way)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        while self._may_start():
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
            self._under_way.append(len(batch))
            task = loop.create_task(self._make(batch, loop))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _make(self, batch: list[_Queued[Call, Answer]], loop: asyncio.AbstractEventLoop) -> None:
        later: list[_Queued[Call, Answer]] = []
        try:
            if len(batch) == 1:
                await self._answer(*batch[0])
            else:
                try:
                    answers = await self._many([call for call, _ in batch])
                except Exception:  # nothing of the batch was written: each call alone
                    later = batch
                else:
                    self.batches += 1
                    self.batched += len(batch)
                    for (call, future), answer in zip(batch, answers, strict=True):
                        if self._alone(answer):
                            later.append((call, future))
                        elif not future.done():  # a caller gone (cancelled) wants no answer
                            future.set_result(answer)
        except BaseException:  # this task cancelled (the loop closing): no caller waits forever
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self._under_way.remove(len(batch))
            self._schedule(loop)
        try:
            for call, future in later:  # after the batch's slot is given back
                await self._answer(call, future)
        except BaseException:
            for _, future in later:
                future.cancel()
            raise

    async def _answer(self, call: Call, future: asyncio.Future[Answer]) -> None:
        try:
            answer = await self._one(call)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(answer)
