"""A real ``spendwarden serve`` child process that tests can start, SIGKILL and restart.

Output goes to a file (not a pipe) so a chatty server can never block on a full pipe and
so a test can read everything it ever printed, across restarts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log_level = log_level
        self.env = {**os.environ, "SPENDWARDEN_DATABASE_URL": database_url, **(env or {})}
        if admin_token is not None:
            self.env["SPENDWARDEN_ADMIN_TOKEN"] = admin_token
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        self._log = open(self.log_path, "ab")  # closed in stop()
        cmd = [sys.executable, "-m", "spendwarden.cli", "serve", "--port", str(self.port)]
        cmd += ["--log-level", self.log_level]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not answer /healthz in {timeout} s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush, commit or say goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int:
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
