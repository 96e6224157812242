"""Periodic work in a process of its own: ``spendwarden worker``, and the child that
``serve`` starts for it when ``SPENDWARDEN_WORKER_PROCESS`` is on.

Why: the signals tick, hold expiry and the analytics fold are Python. In the server's own
threads they hold the GIL that a request thread needs back after each database round trip,
and at 100,000 agents active in a day that stretched authorization p99 two- to threefold.
In another process they run on their own interpreter (and the machine's other core).

What keeps this safe is what already makes replicas safe: every job runs under its own
PostgreSQL leader lock (so any number of servers, each with a child, run each job once), and
what a child commits reaches every server's live stream through LISTEN/NOTIFY. Hence
PostgreSQL only: on SQLite a second process's events would reach no stream. Outbound
deliveries (alert channels, webhooks) stay in the server, where commits wake them at once.

The child reads a pipe from its parent; when the parent dies, even by SIGKILL, the pipe
closes and the child stops after the step in progress.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from spendwarden.config import Settings
from spendwarden.runtime import Runtime
from spendwarden.workers import Workers

log = logging.getLogger("spendwarden.worker")
RESTART_DELAY = 1.0  # seconds before a child that died is started again


class NeedsPostgres(ValueError):
    """A worker process was asked for on SQLite."""

    def __init__(self) -> None:
        super().__init__(
            "a separate worker process needs PostgreSQL (its live events reach the servers "
            "through LISTEN/NOTIFY); on SQLite the server runs its background work itself"
        )


def periodic_workers(runtime: Runtime) -> Workers:
    """Every periodic job in a loop of its own, each under its own leader lock."""
    from spendwarden.api.app import add_periodic_work

    workers = Workers()
    add_periodic_work(runtime, workers)
    return workers


def run_worker(runtime: Runtime, *, watch_parent: IO[bytes] | None = None) -> None:
    """Run the periodic jobs until SIGTERM or SIGINT (or ``watch_parent`` reaches EOF: the
    parent is gone); finish each job's step in progress, flush live events, close."""
    if not runtime.store.is_postgres:
        raise NeedsPostgres()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if watch_parent is not None:
            threading.Thread(
                target=_stop_at_eof, args=(watch_parent, loop, stop), name="parent-watch", daemon=True
            ).start()
        workers = periodic_workers(runtime)
        workers.start()
        log.info("worker started: %s", ", ".join(loop.name for loop in workers.loops))
        await stop.wait()
        runtime.stopping.set()
        await workers.stop()

    try:
        asyncio.run(main())
    finally:
        if runtime.bridge is not None:
            runtime.bridge.flush()
        runtime.close()


def _stop_at_eof(stream: IO[bytes], loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    while stream.read(1024):
        pass
    loop.call_soon_threadsafe(stop.set)


def periodic_in_child(settings: Settings, postgres: bool) -> bool:
    """Whether the server's periodic work runs in a child ``spendwarden worker``:
    ``worker_process`` as set, by default on PostgreSQL only."""
    return settings.worker_process if settings.worker_process is not None else postgres


class WorkerChild:
    """The server's side: start ``spendwarden worker`` as a child, start it again if it
    dies, stop it with the server. The database URL travels in the environment, never on
    the command line (where ``ps`` would show its password), with the other settings that
    say how to reach it."""

    def __init__(self, settings: Settings) -> None:
        self.env = {
            **os.environ,
            "SPENDWARDEN_DATABASE_URL": settings.database_url,
            "SPENDWARDEN_DB_PREPARED_STATEMENTS": str(settings.db_prepared_statements).lower(),
        }
        if settings.database_session_url is not None:
            self.env["SPENDWARDEN_DATABASE_SESSION_URL"] = settings.database_session_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-child", daemon=True)
        self._supervisor.start()

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", "spendwarden.cli", "worker", "--watch-parent"]
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.PIPE)
        self.starts += 1

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            assert self.proc is not None
            code = self.proc.wait()
            if self._stopping.wait(RESTART_DELAY):
                return
            log.error("worker process exited with %s; starting it again", code)
            self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        """Close the child's pipe (it stops after its step in progress); kill it if it lingers."""
        self._stopping.set()
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
