"""On PostgreSQL ``serve`` hands its periodic work to a child ``spendwarden worker``, starts
it again if it dies, and the child goes when the server goes, even by SIGKILL. On SQLite the
server keeps the work (``SPENDWARDEN_WORKER_PROCESS=true`` is refused with a clear error)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_TOKEN
from tests.reliability.proc import Server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENV = {
    "SPENDWARDEN_HOLD_TTL_SECONDS": "1",
    "SPENDWARDEN_SWEEP_INTERVAL_SECONDS": "0.2",
}


def children(pid: int) -> dict[int, str]:
    """Live child processes of ``pid``: their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def wait_for(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {check}")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def worker_of(server: Server) -> int:
    def find() -> int | None:
        workers = [p for p, cmd in children(server.pid).items() if " worker " in f"{cmd} "]
        return workers[0] if len(workers) == 1 else None

    return int(wait_for(find))  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_child_does_the_periodic_work_restarts_and_dies_with_the_server(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        with Server(database_url, tmp_path / "default.log", env=ENV) as server:
            time.sleep(1)
            assert children(server.pid) == {}
        forced = Server(
            database_url, tmp_path / "forced.log", env={**ENV, "SPENDWARDEN_WORKER_PROCESS": "true"}
        )
        with pytest.raises(RuntimeError, match="worker_process_needs_postgres"):
            forced.start()
        return
    server = Server(database_url, tmp_path / "server.log", env=ENV)
    server.start()
    try:
        worker = worker_of(server)
        created = httpx.post(f"{server.url}/v1/agents", json={"id": "w1", "tier": "custom"}, headers=ADMIN)
        key = {"Authorization": f"Bearer {created.json()['api_key']}"}
        assert (
            httpx.post(f"{server.url}/v1/authorize", json={"amount_usd": "1"}, headers=key).status_code == 200
        )

        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:

            def open_holds() -> int:
                with engine.connect() as conn:
                    return int(
                        conn.execute(text("SELECT count(*) FROM holds WHERE status = 'open'")).scalar_one()
                    )

            wait_for(lambda: open_holds() == 0)  # expired by the child: the server runs no sweeper
        finally:
            engine.dispose()
        wait_for(lambda: "worker started: sweeper, signals.tick" in server.output())

        os.kill(worker, signal.SIGKILL)  # the server starts another
        wait_for(lambda: (p := worker_of(server)) != worker and p)
        replacement = worker_of(server)
        assert httpx.get(f"{server.url}/healthz").status_code == 200

        server.kill()  # SIGKILL: the pipe closes, the child stops
        wait_for(lambda: not alive(replacement))
    finally:
        server.stop()


def test_the_child_reaches_the_database_as_the_server_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that say how to reach PostgreSQL travel to the child in its environment
    (behind a transaction pooler it needs the session URL and no prepared statements too)."""
    from spendwarden.config import Settings
    from spendwarden.worker_process import WorkerChild

    pooled, direct = "postgresql://postgres@127.0.0.1:6432/x", "postgresql://postgres@127.0.0.1:5432/x"
    env = WorkerChild(
        Settings(database_url=pooled, database_session_url=direct, db_prepared_statements=False)
    ).env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings()  # what the child reads
    assert (child.database_url, child.session_url, child.db_prepared_statements) == (pooled, direct, False)
