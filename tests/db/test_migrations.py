"""Migrations equal the schema: run every Alembic revision on an empty database and compare
the result with the declared tables, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import current_revision
from spendwarden.db.tables import metadata


def test_migrated_database_matches_declared_schema(database_url: str) -> None:
    assert current_revision(database_url) is not None
    engine = make_null_pool_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    from spendwarden.db.migrate import upgrade

    before = current_revision(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == before
