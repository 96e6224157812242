"""Text that every store can hold: no NUL (U+0000) characters.

PostgreSQL refuses NUL in text (psycopg: "PostgreSQL text fields cannot contain NUL (0x00)
bytes"; asyncpg: "invalid byte sequence"), so a NUL that reached a write was a 500 there
and, in a bulk body, cost the good events beside it; SQLite would store it and cut some of
its functions short at it. Inputs are checked where they come in (the API's body models,
the path and query, the ingest validators), so both backends refuse the same request with
the same 422. Free-form JSON (metadata, labels) is checked too: one rule is easier to trust
than knowing which JSON ends up escaped in a text column.
"""

from __future__ import annotations

NUL = "\x00"
REASON = "must not contain NUL (U+0000) characters"


def nul_at(value: object, where: str) -> str | None:
    """Where in ``value`` (a string, or JSON-like containers of them) a NUL is, as a
    dotted path from ``where``; None if nowhere. Object keys are text too. It runs on every
    request body (``api.schemas.Strict``), so it asks only concrete types: an ABC's
    ``isinstance`` (``Mapping``) cost ~0.25 µs for each ``None`` or number, ~6 µs an
    authorize body."""
    if isinstance(value, str):
        return where if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return where
            found = nul_at(item, f"{where}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            found = nul_at(item, f"{where}.{index}")
            if found is not None:
                return found
    return None
