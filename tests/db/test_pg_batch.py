"""The batchers of ``db/pg_batch.py`` on their own, with plain functions for the calls: every
caller gets its own call's answer (or its own error), calls made together share batches no
bigger than asked, a lone caller makes its call alone, a failed batch is made call by call,
and a call left to be made alone is made alone."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from spendwarden.db.pg_batch import AsyncBatcher, ThreadBatcher


class Calls:
    """``one`` and ``many`` that answer ``call * 10`` and record what they were given.
    ``many`` fails when a batch holds ``fail_with``; a call of ``refuse`` fails alone too;
    a batch answers -1 (to be made alone) for ``busy``."""

    def __init__(self, *, pause: float = 0.0, fail_with: int | None = None, refuse: int | None = None,
                 busy: int | None = None) -> None:  # fmt: skip
        self.pause, self.fail_with, self.refuse, self.busy = pause, fail_with, refuse, busy
        self.singles: list[int] = []
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def one(self, call: int) -> int:
        with self.lock:
            self.singles.append(call)
        time.sleep(self.pause)
        if call == self.refuse:
            raise ValueError(f"refused {call}")
        return call * 10

    def many(self, calls: list[int]) -> list[int]:
        with self.lock:
            self.batches.append(list(calls))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.pause)
            if self.fail_with in calls:
                raise RuntimeError("the batch failed")
            return [-1 if call == self.busy else call * 10 for call in calls]
        finally:
            with self.lock:
                self.running -= 1

    @staticmethod
    def alone(answer: int) -> bool:
        return answer == -1


def thread_batcher(calls: Calls, max_batch: int = 8, in_flight: int = 2) -> ThreadBatcher[int, int]:
    return ThreadBatcher(calls.one, calls.many, calls.alone, max_batch=max_batch, in_flight=in_flight)


def test_a_lone_caller_makes_its_call_alone() -> None:
    calls = Calls()
    batcher = thread_batcher(calls)
    assert [batcher(i) for i in range(5)] == [0, 10, 20, 30, 40]
    assert calls.singles == [0, 1, 2, 3, 4] and calls.batches == []


@pytest.mark.parametrize("in_flight", [1, 2, 3])
def test_concurrent_callers_share_batches_and_each_gets_its_own_answer(in_flight: int) -> None:
    calls = Calls(pause=0.002)
    batcher = thread_batcher(calls, max_batch=8, in_flight=in_flight)
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(batcher, range(2000)))
    assert answers == [i * 10 for i in range(2000)]
    made = sorted(calls.singles + [c for batch in calls.batches for c in batch])
    assert made == list(range(2000))  # each call made once
    assert calls.batches and max(len(b) for b in calls.batches) <= 8
    assert calls.most_running <= in_flight
    assert batcher.batched == sum(len(b) for b in calls.batches)
    assert batcher._leaders == 0 and batcher._queued == []  # every lead given up at the end


def test_batches_under_way_side_by_side_never_share_a_key() -> None:
    """Calls keyed by agent (call % 7): a call whose agent is in a batch under way waits for
    the next batch, so two batches in flight never hold the same agent; calls for one agent
    are still made in the order they came."""
    calls = Calls(pause=0.002)
    flying: list[set[int]] = []
    clashes: list[int] = []
    made: dict[int, list[int]] = {}

    def many(batch: list[int]) -> list[int]:
        keys = {c % 7 for c in batch}
        with calls.lock:
            clashes.extend(k for other in flying for k in keys & other)
            flying.append(keys)
            for c in batch:
                made.setdefault(c % 7, []).append(c)
        try:
            return calls.many(batch)
        finally:
            with calls.lock:
                flying.remove(keys)

    def one(call: int) -> int:
        with calls.lock:
            made.setdefault(call % 7, []).append(call)
        return calls.one(call)

    batcher = ThreadBatcher(one, many, calls.alone, max_batch=8, in_flight=2, key=lambda c: c % 7)

    def caller(start: int) -> list[int]:  # each thread's calls in order, one agent each
        return [batcher(c) for c in range(start, 1400, 14)]

    with ThreadPoolExecutor(14) as pool:
        answers = list(pool.map(caller, range(14)))
    assert answers == [[c * 10 for c in range(start, 1400, 14)] for start in range(14)]
    assert calls.batches and clashes == []
    for agent, order in made.items():  # two threads per agent: each thread's calls in its order
        for start in (agent, agent + 7):
            mine = [c for c in order if c % 14 == start]
            assert mine == sorted(mine)
    assert batcher._leaders == 0 and batcher._queued == [] and not batcher._flying


def test_a_failed_batch_is_made_call_by_call_and_each_error_goes_to_its_caller() -> None:
    calls = Calls(pause=0.002, fail_with=7, refuse=7)
    batcher = thread_batcher(calls)

    def call(i: int) -> int | str:
        try:
            return batcher(i)
        except ValueError as exc:
            return str(exc)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(200)))
    assert answers == ["refused 7" if i == 7 else i * 10 for i in range(200)]
    failed = [b for b in calls.batches if 7 in b]
    if failed:  # its other calls were then made alone
        assert set(failed[0]) <= set(calls.singles)


def test_a_call_left_alone_by_its_batch_is_made_alone() -> None:
    calls = Calls(pause=0.002, busy=5)
    batcher = thread_batcher(calls)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(batcher, range(200)))
    assert answers == [i * 10 for i in range(200)]
    assert 5 in calls.singles


def test_a_caller_whose_call_another_leader_made_still_passes_the_lead_on() -> None:
    """Batches of one, many callers: leads are handed to queued callers that another
    leader may already have answered; every call is still answered and no lead is lost."""
    calls = Calls(pause=0.0005)
    batcher = thread_batcher(calls, max_batch=1, in_flight=2)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(batcher, range(1000)))
    assert answers == [i * 10 for i in range(1000)]
    assert batcher._leaders == 0


class AsyncCalls(Calls):
    async def one_async(self, call: int) -> int:
        await asyncio.sleep(self.pause)
        with self.lock:
            self.singles.append(call)
        if call == self.refuse:
            raise ValueError(f"refused {call}")
        return call * 10

    async def many_async(self, calls: list[int]) -> list[int]:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.pause)
        finally:
            with self.lock:
                self.running -= 1
        pause, self.pause = self.pause, 0.0
        try:
            return self.many(calls)
        finally:
            self.pause = pause


def async_batcher(calls: AsyncCalls, max_batch: int = 8, in_flight: int = 1) -> AsyncBatcher[int, int]:
    return AsyncBatcher(
        calls.one_async, calls.many_async, calls.alone, max_batch=max_batch, in_flight=in_flight
    )


def test_the_event_loop_batches_calls_made_in_one_iteration() -> None:
    calls = AsyncCalls(pause=0.001)
    batcher = async_batcher(calls, max_batch=8, in_flight=2)

    async def main() -> list[int]:
        assert await batcher(1) == 10  # alone
        return await asyncio.gather(*(batcher(i) for i in range(100)))

    assert asyncio.run(main()) == [i * 10 for i in range(100)]
    assert calls.singles[0] == 1
    assert calls.batches and max(len(b) for b in calls.batches) <= 8
    assert calls.most_running <= 2
    assert sorted(calls.singles[1:] + [c for b in calls.batches for c in b]) == list(range(100))


def test_the_event_loop_makes_failed_and_busy_calls_alone() -> None:
    calls = AsyncCalls(fail_with=3, refuse=3, busy=42)
    batcher = async_batcher(calls)

    async def call(i: int) -> int | str:
        try:
            return await batcher(i)
        except ValueError as exc:
            return str(exc)

    async def main() -> list[int | str]:
        return await asyncio.gather(*(call(i) for i in range(64)))

    assert asyncio.run(main()) == ["refused 3" if i == 3 else i * 10 for i in range(64)]
    assert {3, 42} <= set(calls.singles)


def test_a_caller_gone_does_not_stop_the_others() -> None:
    calls = AsyncCalls(pause=0.01)
    batcher = async_batcher(calls)

    async def main() -> list[int]:
        gone = asyncio.ensure_future(batcher(0))
        others = [asyncio.ensure_future(batcher(i)) for i in range(1, 10)]
        await asyncio.sleep(0.001)
        gone.cancel()
        return await asyncio.gather(*others)

    assert asyncio.run(main()) == [i * 10 for i in range(1, 10)]


def test_callers_are_not_left_waiting_when_the_batch_itself_is_cancelled() -> None:
    """The loop closing cancels the batch's task: its callers are cancelled too, not left
    waiting for an answer that never comes."""

    async def never(calls: list[int]) -> list[int]:
        await asyncio.sleep(3600)
        return calls

    async def one(call: int) -> int:
        await asyncio.sleep(3600)
        return call

    batcher: AsyncBatcher[int, int] = AsyncBatcher(one, never, lambda _: False, max_batch=8)

    async def main() -> list[BaseException | int]:
        callers = [asyncio.ensure_future(batcher(i)) for i in range(3)]
        await asyncio.sleep(0.01)
        for task in list(batcher._tasks):
            task.cancel()
        return await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 2)

    outcomes = asyncio.run(main())
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)


def test_a_second_batch_starts_beside_the_first_only_once_it_would_be_as_big() -> None:
    """With a batch of four under way, one call queued waits; four queued start a second
    batch beside it (so under load batches stay big, and the server does not sit idle)."""
    release = asyncio.Event()
    started: list[list[int]] = []

    async def many(calls: list[int]) -> list[int]:
        started.append(calls)
        await release.wait()
        return [c * 10 for c in calls]

    async def one(call: int) -> int:
        started.append([call])
        await release.wait()
        return call * 10

    batcher: AsyncBatcher[int, int] = AsyncBatcher(one, many, lambda _: False, max_batch=8, in_flight=2)

    async def settle() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(batcher(i)) for i in range(4)]
        await settle()
        assert started == [[0, 1, 2, 3]]
        calls.append(asyncio.ensure_future(batcher(4)))
        await settle()
        assert started == [[0, 1, 2, 3]]  # one queued: it waits for the batch under way
        calls += [asyncio.ensure_future(batcher(i)) for i in range(5, 8)]
        await settle()
        assert started == [[0, 1, 2, 3], [4, 5, 6, 7]]  # as many as under way: a second batch
        calls.append(asyncio.ensure_future(batcher(8)))
        await settle()
        assert len(started) == 2  # two under way: no third
        release.set()
        return await asyncio.gather(*calls)

    assert asyncio.run(main()) == [i * 10 for i in range(9)]
    assert batcher._under_way == []  # no batch counted as under way once all are done
