"""``interpreter.paused_gc``: the cyclic collector off for bulk work, back as it was after,
also when pauses in several threads overlap. (``tune_for_serving`` is tested through
``serve``: ``tests/api/test_serve_settings.py``.)"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from spendwarden import interpreter
from spendwarden.interpreter import paused_gc


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_back_after_even_when_the_block_fails() -> None:
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("a bulk batch broke")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_last() -> None:
    """Thread A pauses, B pauses, A ends: B is still under way, so the collector stays off
    until B ends."""
    gc.enable()
    a_in, b_in, a_out, b_may_end = (threading.Event() for _ in range(4))
    seen: list[bool] = []

    def a() -> None:
        with paused_gc():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with paused_gc():
            b_in.set()
            a_out.wait(5)
            seen.append(gc.isenabled())  # A has ended
            b_may_end.wait(5)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_out.wait(5)
    b_may_end.set()
    for t in threads:
        t.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_pauses_that_overlap_for_long_still_collect_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bulk imports from two threads, back to back, would keep the collector off for good:
    past ``LONGEST_PAUSE_SECONDS`` a pause that ends while another goes on collects."""
    gc.enable()
    collected: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(1) or 0)
    monkeypatch.setattr(interpreter, "LONGEST_PAUSE_SECONDS", 0.0)
    with paused_gc():
        with paused_gc():
            pass
        assert collected == [1]  # the inner one ended while the outer went on
        assert not gc.isenabled()
    assert collected == [1] and gc.isenabled()  # the last one re-enables instead
