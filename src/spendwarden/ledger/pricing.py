"""Turning a spend described by token usage into an amount, via the runtime's pricer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from spendwarden.errors import PricingUnavailable, ValidationFailed
from spendwarden.events import SpendEvent
from spendwarden.ledger.context import LedgerCore


def priced(core: LedgerCore, event: SpendEvent, provider: str | None, at: datetime) -> SpendEvent:
    """Fill ``amount`` and ``price_version`` from the event's usage; never a silent zero."""
    if event.usage is None:
        raise ValidationFailed("Give amount_usd or usage.", field="amount_usd")
    if not event.model:
        raise ValidationFailed("usage needs a model to be priced.", field="usage.model")
    if core.pricer is None:
        raise PricingUnavailable("No LLM price source is configured.", model=event.model)
    amount, version = core.pricer(provider or event.vendor, event.model, event.usage, at)
    return replace(event, amount=amount, price_version=version)
