"""Create and upgrade the schema with Alembic, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from spendwarden.db.engine import make_null_pool_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def revision_module(filename: str) -> ModuleType:
    """One revision's module, by its file name in ``migrations/versions`` (Alembic's versions
    are files, not a package): for a revision that restores an earlier one's function text."""
    path = MIGRATIONS / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"spendwarden_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest)."""
    engine = make_null_pool_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = make_null_pool_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            from sqlalchemy import text

            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
