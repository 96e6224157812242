"""PostgreSQL's pool hands out the connection returned last (LIFO): a lone caller keeps one
warm backend (its prepared statements, its cached plan of ``spendwarden_authorize``)
instead of cycling through every pooled connection, which cost ~25 % of in-process
authorizations/s (docs/BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from spendwarden.db.store import Store


def test_the_connection_returned_last_goes_out_next(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps one writer connection; no pool order to speak of")
    store = Store(database_url)
    try:
        with store.autocommit() as first, store.autocommit() as second:
            backends = {
                "first": first.execute("SELECT pg_backend_pid()").fetchone()[0],
                "second": second.execute("SELECT pg_backend_pid()").fetchone()[0],
            }
        assert backends["first"] != backends["second"]
        # ``first`` went back last (the with-statement closes in reverse): it comes out
        # every time, however often a lone caller asks.
        for _ in range(5):
            with store.autocommit() as again:
                assert again.execute("SELECT pg_backend_pid()").fetchone()[0] == backends["first"]
    finally:
        store.dispose()
