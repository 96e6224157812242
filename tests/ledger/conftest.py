"""Fixtures shared by the ledger's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime


@pytest.fixture
def twins(database_url: str, clock: FrozenClock) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database, as two processes: the first authorizes with the
    database function, the second on the locked path."""
    fast = build_runtime(
        Settings(database_url=database_url, admin_token="a" * 40), clock=clock, migrate=False
    )
    locked = build_runtime(
        Settings(database_url=database_url, admin_token="a" * 40, authorize_in_database=False),
        clock=clock,
        migrate=False,
    )
    yield fast, locked
    fast.close()
    locked.close()
