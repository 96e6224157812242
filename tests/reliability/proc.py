"""A real ``spendwarden serve`` child process that tests can start, SIGKILL and restart.

Output goes to a file (not a pipe) so a chatty server can never block on a full pipe and
so a test can read everything it ever printed, across restarts.

Two ways to start one, the same command either way:

- ``Server(...)``: ``python -m spendwarden.cli serve`` in a fresh interpreter (what an
  operator runs);
- ``Server(..., fork=True)``: a fork of a warm forkserver that has already imported what
  ``serve`` needs (``serve_child.py``), which then runs the same ``spendwarden serve``
  command. A restart costs the server's own start-up, not the interpreter's imports; tests
  that restart servers many times (the crash test) use it. SIGKILL is the same SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_forkserver: ForkServerContext | None = None


def forkserver() -> ForkServerContext:
    """The forkserver that preloads ``serve_child`` (started on first use, once per session)."""
    global _forkserver
    if _forkserver is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tests.reliability.serve_child"])
        _forkserver = ctx
    return _forkserver


class Server:
    """One server process at a time on a fixed port; ``kill()`` is SIGKILL, no goodbye."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
        admin_token: str | None = ADMIN_TOKEN,
        fork: bool = False,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log_level = log_level
        self.fork = fork
        self.env = {**os.environ, "SPENDWARDEN_DATABASE_URL": database_url, **(env or {})}
        if admin_token is not None:
            self.env["SPENDWARDEN_ADMIN_TOKEN"] = admin_token
        self.proc: subprocess.Popen[bytes] | None = None
        self.forked: BaseProcess | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        argv = ["serve", "--port", str(self.port), "--log-level", self.log_level]
        if self.fork:
            from tests.reliability.serve_child import serve

            self.forked = forkserver().Process(
                target=serve, args=(argv, self.env, str(self.log_path)), daemon=True
            )
            self.forked.start()
        else:
            self._log = open(self.log_path, "ab")  # closed in stop()
            cmd = [sys.executable, "-m", "spendwarden.cli", *argv]
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self.starts += 1
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"server exited with {self.exitcode()}:\n{self.output()[-3000:]}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"server did not answer /healthz in {timeout} s:\n{self.output()[-3000:]}")

    def alive(self) -> bool:
        if self.forked is not None:
            return self.forked.is_alive()
        return self.proc is not None and self.proc.poll() is None

    def exitcode(self) -> int | None:
        if self.forked is not None:
            return self.forked.exitcode
        return self.proc.returncode if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush, commit or say goodbye."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self._wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait(10):
                os.kill(self.pid, signal.SIGKILL)
                self._wait(10)
        self._close_log()

    def _wait(self, timeout: float) -> bool:
        """Reap the process; False if it is still running after ``timeout`` seconds."""
        if self.forked is not None:
            self.forked.join(timeout)
            return self.forked.exitcode is not None
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
        return True

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int:
        if self.forked is not None:
            assert self.forked.pid is not None
            return self.forked.pid
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def two_servers(database_url: str, logs: Path) -> Iterator[tuple[str, str]]:
    """Two ``spendwarden serve`` replicas on one database; yields their base URLs."""
    with (
        Server(database_url, logs / "one.log", fork=True) as first,
        Server(database_url, logs / "two.log", fork=True) as second,
    ):
        yield first.url, second.url
