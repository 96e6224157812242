"""A real Spendwarden server in a background thread, on 127.0.0.1 and a free port.

Used by ``spendwarden drill --database`` (the drill then goes through HTTP exactly as
against a deployed server), by the SDK's tests and by demos.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

    from spendwarden.runtime import Runtime


class LocalServer:
    """``with LocalServer(runtime) as server: httpx.get(server.url + "/healthz")``."""

    def __init__(
        self, runtime: Runtime, *, host: str = "127.0.0.1", port: int = 0, workers: bool = False
    ) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.workers = workers
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> LocalServer:
        import uvicorn

        from spendwarden.api.app import create_app

        app = create_app(self.runtime, run_workers=self.workers)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", access_log=False)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="spendwarden-local-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local Spendwarden server did not start")
            time.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
