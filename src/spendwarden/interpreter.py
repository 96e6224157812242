"""The interpreter's settings for a long-running process: ``spendwarden serve``,
``spendwarden worker`` and the benchmarks' server apply the same ones, once everything
they serve with is built.

* ``gil_switch_interval_ms``: how long a busy thread may keep the GIL (Python's 5 ms by
  default), for background work that stretches request latency.
* ``gc_freeze``: the objects alive once the process is ready (modules, the app and its
  routes, the ORM's tables, a few hundred thousand) are moved out of the cyclic garbage
  collector's reach with ``gc.freeze()``. Python's full collections walk every tracked
  object; under 4,700 authorizations/s they ran about once a second and paused the server
  55-65 ms each, collecting nothing, which was the whole of p99 (57 ms; 6.9 ms frozen, the
  same run otherwise; docs/BENCHMARKS.md, stop 23). Frozen objects are still freed by
  reference counting; only a cycle among them that becomes garbage later stays, and these
  live as long as the process anyway.
* ``gc_young_threshold``: allocations between young-generation collections, 20,000 instead
  of Python's 700. Each collection walks what the requests under way still hold; over HTTP
  that made ~5 % more authorizations a second (5,917-6,027 -> 6,266-6,370 req/s, the no-op
  1-3 %). Garbage in cycles waits a little longer to be freed.

``paused_gc`` is for bulk work that allocates many objects and keeps them until it is done
(a batch of 50,000 ledger rows): each young-generation collection walks the batch's
survivors again, and over the bulk path that was ~17 % of its time (37,000 -> 44,000
events/s paused; docs/BENCHMARKS.md, stop 23). Reference counting frees what it can
meanwhile; cycles wait for the collection after the pause, and pauses that overlap without
a gap for long (bulk imports from several threads) collect now and then.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from spendwarden.config import Settings


def tune_for_serving(settings: Settings) -> None:
    """Apply the process settings; call it last, just before serving."""
    if settings.gil_switch_interval_ms:
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    if settings.gc_young_threshold:
        gc.set_threshold(settings.gc_young_threshold, *gc.get_threshold()[1:])
    if settings.gc_freeze:
        gc.collect()  # what is garbage now is not frozen with the rest
        gc.freeze()


_pause_lock = threading.Lock()
_pauses = 0  # bulk batches under way with the collector paused (threads may overlap)
_was_enabled = False
_paused_since = 0.0  # when the collector last ran, or was paused, while pauses overlap
# Pauses that overlap without a gap (bulk imports from several threads, back to back) would
# keep the collector off for good, and cycles would pile up: past this, a batch that ends
# while others go on collects once.
LONGEST_PAUSE_SECONDS = 10.0


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while the block runs; it is back on (if it was on
    before the first of overlapping pauses) when the last one ends. While pauses overlap
    for longer than ``LONGEST_PAUSE_SECONDS``, the next one to end collects."""
    global _pauses, _was_enabled, _paused_since
    with _pause_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            _paused_since = time.monotonic()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        collect = False
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0:
                if _was_enabled:
                    gc.enable()
            elif _was_enabled and time.monotonic() - _paused_since > LONGEST_PAUSE_SECONDS:
                _paused_since = time.monotonic()
                collect = True
        if collect:
            gc.collect()
