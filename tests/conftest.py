"""Fixtures that build real databases: every storage test runs on SQLite and PostgreSQL.

Each test gets its own database cloned from a template migrated once per session
(procrastinate's habit): a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL. Without a reachable PostgreSQL the ``postgres`` cases skip with the reason;
with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.db.engine import is_sqlite, make_null_pool_engine
from spendwarden.db.migrate import upgrade
from spendwarden.runtime import Runtime, build_runtime

PG_ADMIN_URL = os.environ.get("SPENDWARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_counter = itertools.count()

# No per-example deadline: the suite asserts behaviour, never timing (benchmarks live in
# bench/), and a first example that pays a lazy import ran past the 200 ms default once.
hypothesis_settings.register_profile("spendwarden", deadline=None)
hypothesis_settings.load_profile("spendwarden")


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def _pg_reachable() -> str | None:
    try:
        engine = make_null_pool_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


def _pg_exec(sql: str) -> None:
    engine = make_null_pool_engine(PG_ADMIN_URL)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    reason = _pg_reachable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        yield None
        return
    name = f"sw_tmpl_{os.getpid()}"
    _pg_exec(f"DROP DATABASE IF EXISTS {name}")
    _pg_exec(f"CREATE DATABASE {name}")
    upgrade(_pg_url(name))
    yield name
    _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "spendwarden.db"
        shutil.copy(template, target)
        yield f"sqlite:///{target}"
        return
    tmpl = request.getfixturevalue("pg_template")
    if tmpl is None:
        pytest.skip(_pg_reachable() or "PostgreSQL not available")
    name = f"sw_t_{os.getpid()}_{next(_counter)}"
    _pg_exec(f"CREATE DATABASE {name} TEMPLATE {tmpl}")
    yield _pg_url(name)
    _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def backend_name(database_url: str) -> str:
    """``sqlite`` or ``postgresql``: how the figures files name a test database's backend."""
    return "sqlite" if is_sqlite(database_url) else "postgresql"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, admin_token=ADMIN_TOKEN, db_pool_size=30)


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock, migrate=False)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from spendwarden.api.app import create_app

    with TestClient(create_app(runtime, run_workers=False)) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
