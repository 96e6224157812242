"""SDK fixtures: a real Spendwarden server (uvicorn in a thread on 127.0.0.1) or the embedded
ledger on the same database, and a fake OpenAI/Anthropic API for the real SDKs to call."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime
from spendwarden.sdk import AsyncClient, Client
from spendwarden.sdk.server import LocalServer
from tests.conftest import ADMIN_TOKEN
from tests.sdk.fake_llm import FakeLLM


def with_pricer(runtime: Runtime) -> Runtime:
    """Settling by usage needs the server's pricer: the ingest plugin sets it; if it is not
    installed, set the same genai-prices pricer explicitly."""
    if runtime.ledger.core.pricer is None:
        from spendwarden.ingest.pricing import make_pricer

        runtime.ledger.core.pricer = make_pricer()
    return runtime


@pytest.fixture
def sdk_runtime(runtime: Runtime) -> Runtime:
    """The shared ``runtime`` fixture (SQLite and PostgreSQL), able to price usage."""
    return with_pricer(runtime)


@pytest.fixture
def lite_runtime(sqlite_template: Path, tmp_path: Path, clock: FrozenClock) -> Iterator[Runtime]:
    """SQLite only, for tests whose subject is the SDK rather than storage (both backends are
    covered by ``test_client``); a module selects it by overriding ``sdk_runtime``."""
    target = tmp_path / "lite.db"
    shutil.copy(sqlite_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", admin_token=ADMIN_TOKEN)
    rt = with_pricer(build_runtime(settings, clock=clock, migrate=False))
    yield rt
    rt.close()


@pytest.fixture(params=["http", "embedded"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_factory(runtime: Runtime, mode: str, url: str | None) -> Callable[[str], Client]:
    def make(key: str) -> Client:
        if mode == "http":
            return Client(key=key, url=url, retries=0)
        return Client.embedded(runtime=runtime, key=key)

    return make


def async_factory(runtime: Runtime, mode: str, url: str | None) -> Callable[[str], AsyncClient]:
    def make(key: str) -> AsyncClient:
        if mode == "http":
            return AsyncClient(key=key, url=url, retries=0)
        return AsyncClient.embedded(runtime=runtime, key=key)

    return make


@pytest.fixture
def server(request: pytest.FixtureRequest, mode: str) -> Iterator[LocalServer | None]:
    """A real server on the test's database when the mode is ``http``."""
    if mode != "http":
        yield None
        return
    runtime: Runtime = request.getfixturevalue("sdk_runtime")
    with LocalServer(runtime) as srv:
        yield srv


@pytest.fixture
def make_client(sdk_runtime: Runtime, mode: str, server: LocalServer | None) -> Callable[[str], Client]:
    return client_factory(sdk_runtime, mode, server.url if server else None)


@pytest.fixture
def make_async(sdk_runtime: Runtime, mode: str, server: LocalServer | None) -> Callable[[str], AsyncClient]:
    return async_factory(sdk_runtime, mode, server.url if server else None)


@pytest.fixture(scope="session")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def transactions(runtime: Runtime, agent_id: str) -> list[dict[str, Any]]:
    """The agent's ledger rows, oldest first, as the API renders them."""
    from spendwarden.db import queries as q
    from spendwarden.ledger.render import transaction_public

    with runtime.store.read() as conn:
        rows = q.list_transactions(
            conn, filters={"agent_id": agent_id}, since=None, until=None, before=None, limit=100
        )
    return [transaction_public(r) for r in reversed(rows)]


def holds(runtime: Runtime, agent_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from spendwarden.db.tables.core import holds as holds_table

    with runtime.store.read() as conn:
        rows = conn.execute(select(holds_table).where(holds_table.c.agent_id == agent_id)).mappings().all()
    return [dict(r) for r in rows]
