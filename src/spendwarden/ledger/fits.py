"""Whether a spend's text fits the ledger's columns, checked before any write.

SQLite ignores a VARCHAR's length; PostgreSQL refuses a longer value, so a vendor, rail,
endpoint or task id longer than its column was a 500 there and, in a bulk body, cost the
good events beside it (found by fuzzing the API on PostgreSQL). The lengths come from the
table itself, so the check follows the schema; every way a spend's text comes into the
ledger (the API, ingest, webhooks, files, the socket sidecar, the embedded SDK) passes
through ``record_spend`` or ``record_batch``, which ask this first. A settle does not: its
text is its hold's, already stored, and its usage's model a ``Short`` (200, the column's).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import String

from spendwarden.db.tables.core import transactions
from spendwarden.errors import ValidationFailed
from spendwarden.events import SpendEvent
from spendwarden.text import NUL, REASON


@cache
def _limits() -> tuple[tuple[str, int], ...]:
    """``(field, length)`` of every SpendEvent text field stored in a bounded column."""
    fields = SpendEvent.__dataclass_fields__
    return tuple(
        (c.name, c.type.length)
        for c in transactions.columns
        if isinstance(c.type, String) and c.type.length and c.name in fields
    )


def unfit_field(event: SpendEvent) -> tuple[str, str] | None:
    """The first field of ``event`` the ledger cannot store, and why; None if all fit."""
    for name, length in _limits():
        value = getattr(event, name)
        if isinstance(value, str):
            if len(value) > length:
                return name, f"must be at most {length} characters"
            if NUL in value:
                return name, REASON
    return None


def check_fits(event: SpendEvent) -> None:
    """``unfit_field`` as the 422 every other field error is."""
    unfit = unfit_field(event)
    if unfit is not None:
        name, reason = unfit
        raise ValidationFailed(f"{name} {reason}.", field=name)
