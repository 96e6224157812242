"""Recording spends that already happened (``POST /v1/transactions`` and every ingest rail).

``(source, external_id)`` makes recording idempotent: a redelivered webhook or a
re-imported file returns the row already there and counts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spendwarden.db import queries as q
from spendwarden.events import SpendEvent
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.fits import check_fits
from spendwarden.ledger.record import append
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.unit import agent_unit


@dataclass(frozen=True)
class Recorded:
    transaction: dict[str, Any]
    duplicate: bool


def record_spend(core: LedgerCore, event: SpendEvent) -> Recorded:
    """Append one spend for its agent, unless ``(source, external_id)`` is already recorded."""
    check_fits(event)
    with agent_unit(core, event.agent_id) as ctx:
        if event.external_id is not None:
            existing = q.find_external(ctx.conn, event.source, event.external_id)
            if existing is not None:
                return Recorded(transaction_public(existing), duplicate=True)
        row = append(ctx, event)
    return Recorded(transaction_public(row), duplicate=False)
