"""Behind a real PgBouncer in transaction mode (``database_session_url``,
``db_prepared_statements=false``): caps stay exact, the fast route, bulk ingest and the
live stream work, and periodic work still has one leader.

Transaction mode hands every transaction to whichever server connection is free. Without
the two settings, a prepared statement of one client met another client's (psycopg names
them ``_pg3_0``, ``_pg3_1``… per connection: "bind message supplies 19 parameters, but
prepared statement "_pg3_4" requires 16"), and both replicas held the same leader lock.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from spendwarden.api.app import create_app
from spendwarden.config import Settings
from spendwarden.errors import CapExceeded
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.bulk import record_batch
from spendwarden.ledger.context import Emitted
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.reliability.proc import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]

SERVER_CONNECTIONS = 2  # per database: every client shares these two


def _pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
    )


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[int]:
    """A PgBouncer (Debian's package; ``.ci/run`` installs it) in transaction mode in front
    of the test PostgreSQL on 127.0.0.1:5432; its port."""
    binary = _pgbouncer_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires pgbouncer (apt-get install pgbouncer)")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="sw-pgbouncer-"))
    folder.chmod(0o777)  # PgBouncer refuses to run as root: it runs as postgres, below
    (folder / "users.txt").write_text('"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n* = host=127.0.0.1 port=5432\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\npool_mode = transaction\n"
        f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 500\n"
        f"logfile = {folder}/pgbouncer.log\nignore_startup_parameters = extra_float_digits,options\n"
    )
    for f in folder.iterdir():
        f.chmod(0o666)
    command = [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError as exc:
                if proc.poll() is not None:
                    said = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"pgbouncer exited: {said}") from exc
                time.sleep(0.1)
        else:
            raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{port}")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _pooled(database_url: str, port: int) -> str:
    return database_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


@pytest.fixture
def replicas(database_url: str, pgbouncer: int) -> Iterator[tuple[Runtime, Runtime]]:
    """Two replicas configured for the pooler: statements through it, sessions past it."""
    settings = Settings(
        database_url=_pooled(database_url, pgbouncer),
        database_session_url=database_url,
        db_prepared_statements=False,
        admin_token=ADMIN_TOKEN,
        db_pool_size=8,
    )
    one, two = build_runtime(settings), build_runtime(settings)
    yield one, two
    one.close()
    two.close()


def test_the_pooler_shares_server_connections_between_clients(database_url: str, pgbouncer: int) -> None:
    """The premise: more clients than server connections, each statement on whichever is free."""
    clients = [psycopg.connect(_pooled(database_url, pgbouncer), autocommit=True) for _ in range(4)]
    try:
        pids = set()
        for _ in range(5):
            for conn in clients:
                row = conn.execute("SELECT pg_backend_pid()").fetchone()
                assert row is not None
                pids.add(row[0])
        assert len(pids) <= SERVER_CONNECTIONS
    finally:
        for conn in clients:
            conn.close()


def test_caps_stay_exact_and_rows_are_counted_once_through_the_pooler(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    one.ledger.create_agent(AgentSpec(id="racer", tier="custom", caps={"daily": 50 * 100}), "test")

    def attempt(i: int) -> bool:
        try:
            replicas[i % 2].ledger.authorize("racer", AuthorizeRequest(amount=100, vendor="openai"))
            return True
        except CapExceeded:
            return False

    with ThreadPoolExecutor(16) as pool:
        approved = sum(pool.map(attempt, range(200)))
    assert approved == 50  # every approval fits, none more: across both replicas

    one.ledger.create_agent(AgentSpec(id="bulk", tier="custom"), "test")
    events = [
        SpendEvent(agent_id="bulk", amount=7, vendor="x", source="pooler", external_id=f"e{i}")
        for i in range(2000)
    ]
    assert len(record_batch(one.ledger.core, events).accepted) == 2000
    assert len(record_batch(two.ledger.core, events).duplicates) == 2000  # redelivery: nothing new
    assert two.ledger.view("bulk")["spend"]["total"] == "0.014000"


def test_the_fast_route_answers_through_the_pooler(replicas: tuple[Runtime, Runtime]) -> None:
    """asyncpg on the event loop, batched calls of ``spendwarden_authorize_batch``."""
    runtime = replicas[0]
    keys = [
        runtime.ledger.create_agent(AgentSpec(id=f"f{i}", tier="custom", caps={"daily": 10**9}), "test")[1]
        for i in range(8)
    ]

    async def scenario() -> list[int]:
        app = create_app(runtime)
        async with app.router.lifespan_context(app):
            assert app.state.pg_connections is not None  # the fast route is the one taken
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                statuses = []
                for _ in range(10):
                    answers = await asyncio.gather(
                        *(
                            client.post(
                                "/v1/authorize",
                                json={"amount_usd": "0.01", "vendor": "openai"},
                                headers={"authorization": f"Bearer {keys[i % 8]}"},
                            )
                            for i in range(16)
                        )
                    )
                    statuses += [a.status_code for a in answers]
                return statuses

    assert asyncio.run(scenario()) == [200] * 160
    assert [runtime.ledger.view(f"f{i}")["held"] for i in range(8)] == ["0.200000"] * 8  # 20 holds each


def test_periodic_work_has_one_leader_and_live_events_cross_replicas(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    for _ in range(5):  # a session lock through the pooler was held by both, every time
        with one.store.leader_lock("sweeper") as first, two.store.leader_lock("sweeper") as second:
            assert (first, second) == (True, False)

    async def scenario() -> str:
        two.hub.bind(asyncio.get_running_loop())
        queue = two.hub.subscribe()
        two.start_live()
        await asyncio.sleep(0.5)  # the listener is connected
        one.ledger.core.publish([Emitted("agent", "agent.halted", {"agent_id": "x", "status": "halted"})])
        event = await asyncio.wait_for(queue.get(), timeout=5)
        return event.name

    assert asyncio.run(scenario()) == "agent.halted"


def test_migrate_takes_the_session_url_and_a_given_database_takes_everything(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spendwarden migrate`` runs its DDL past the pooler (here: a pooler that is down);
    ``--database`` names one database for all of it, whatever the session URL says."""
    from typer.testing import CliRunner

    from spendwarden.cli import app, settings_for

    monkeypatch.setenv("SPENDWARDEN_DATABASE_URL", _pooled(database_url, free_port()))  # nothing listens
    monkeypatch.setenv("SPENDWARDEN_DATABASE_SESSION_URL", database_url)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    elsewhere = "postgresql://postgres@127.0.0.1:5432/another"
    assert settings_for(elsewhere).session_url == elsewhere
