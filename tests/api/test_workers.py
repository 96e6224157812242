"""The server's background loops: every periodic job has its own loop, so a slow one (a
signals tick over many agents) never holds back the others (hold expiry, the fold)."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.runtime import Runtime


def test_a_slow_periodic_job_does_not_hold_back_the_others(runtime: Runtime) -> None:
    release = threading.Event()
    started = threading.Event()
    fast_runs: list[float] = []

    def slow() -> None:
        started.set()
        release.wait(10)

    runtime.periodic[:0] = [("test.slow", slow), ("test.fast", lambda: fast_runs.append(time.monotonic()))]
    runtime.settings.sweep_interval_seconds = 0.05
    try:
        with TestClient(create_app(runtime)):
            assert started.wait(5)
            deadline = time.monotonic() + 5
            while len(fast_runs) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(fast_runs) >= 3, "the fast job waited for the slow one"
            assert not release.is_set()  # the slow job was still running all along
            release.set()
    finally:
        release.set()
