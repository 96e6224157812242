"""Alembic environment: runs against the connection handed over by ``spendwarden.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.tables import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_null_pool_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
