"""A throwaway Spendwarden: SQLite in a temporary directory, uvicorn in a background thread.

The server runs on the demo's clock (``DemoClock``), so its periodic work (the signals
tick, hold expiry) and the dashboard see the same simulated time as the scenario.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from spendwarden.config import Settings
from spendwarden.demo.client import DemoError
from spendwarden.demo.clock import DemoClock


@dataclass(frozen=True)
class LocalServer:
    url: str
    admin_token: str
    database: Path


def _listening_socket(host: str) -> socket.socket:
    """Bind port 0 here and hand the socket to uvicorn: no race for a "free" port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@contextmanager
def local_server(clock: DemoClock, host: str = "127.0.0.1") -> Iterator[LocalServer]:
    from spendwarden.api.app import create_app
    from spendwarden.ledger.keys import new_admin_token
    from spendwarden.runtime import build_runtime

    with tempfile.TemporaryDirectory(prefix="spendwarden-demo-") as tmp:
        database = Path(tmp) / "demo.db"
        token = new_admin_token()
        # Isolated from the caller's SPENDWARDEN_* tuning (.env, rate limits, thresholds):
        # the scenario is calibrated against the defaults.
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=f"sqlite:///{database}",
            admin_token=token,
            environment="development",
            sweep_interval_seconds=0.5,
            rate_limit_per_second=0,
            signals={},
        )
        runtime = build_runtime(settings, clock=clock)
        sock = _listening_socket(host)
        config = uvicorn.Config(
            create_app(runtime, run_workers=True),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="demo-server", daemon=True
        )
        thread.start()
        try:
            _wait_started(server, thread)
            yield LocalServer(f"http://{host}:{sock.getsockname()[1]}", token, database)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()
            runtime.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise DemoError("the demo server stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            raise DemoError("the demo server did not start in time")
        time.sleep(0.05)
