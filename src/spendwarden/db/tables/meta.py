"""The shared SQLAlchemy ``MetaData`` and column helpers."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, Text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def micros(name: str, *, nullable: bool = False, default: int | None = 0) -> Column[int]:
    """A money column: integer micro-dollars (never a float)."""
    return Column(
        name, BigInteger, nullable=nullable, server_default=None if default is None else str(default)
    )


def timestamp(name: str, *, nullable: bool = False) -> Column[int]:
    """A moment as integer microseconds since the Unix epoch, UTC: exact and identical on
    SQLite and PostgreSQL, so hashes and range scans agree across backends."""
    return Column(name, BigInteger, nullable=nullable)


def json_text(name: str, *, nullable: bool = True) -> Column[str]:
    """JSON stored as text, byte-for-byte what was hashed."""
    return Column(name, Text, nullable=nullable)
