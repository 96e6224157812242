"""Switches on the ingest part for a runtime: the LLM pricer and outbound webhooks.

The pricer serves settle-with-usage, ``POST /v1/transactions`` and every bulk rail. The
webhook sender publishes into its outbox everywhere (server, CLI, embedded SDK) but sends
only where workers run (``spendwarden serve``); queued deliveries wait for a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spendwarden.ingest.outbound import WebhookSender
from spendwarden.ingest.prices import PriceCatalog
from spendwarden.ingest.pricing import ModelPrice

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

CATALOG_ATTR = "price_catalog"
SENDER_ATTR = "webhook_sender"


def install(runtime: Runtime) -> None:
    settings = runtime.settings
    fallback = settings.llm_fallback_price
    catalog = PriceCatalog(
        runtime.store,
        ModelPrice(
            fallback["input"], fallback["output"], fallback.get("cache_read"), fallback.get("cache_write")
        )
        if fallback
        else None,
    )
    runtime.ledger.core.pricer = catalog
    setattr(runtime, CATALOG_ATTR, catalog)
    sender = WebhookSender(
        runtime.store,
        runtime.clock,
        max_attempts=settings.webhook_max_attempts,
        timeout=settings.webhook_timeout_seconds,
    )
    setattr(runtime, SENDER_ATTR, sender)
    runtime.ledger.core.outboxes.append(sender.stage)
    runtime.ledger.core.publishers.append(sender.on_events)
    runtime.workers.add("webhooks", 0.001, sender.run_once)


def catalog_of(runtime: Runtime) -> PriceCatalog:
    catalog = getattr(runtime, CATALOG_ATTR, None)
    if not isinstance(catalog, PriceCatalog):
        raise RuntimeError("ingest plugin is not installed on this runtime")
    return catalog


def sender_of(runtime: Runtime) -> WebhookSender:
    """The runtime's webhook sender (tests drive ``deliver_due`` directly with a frozen clock)."""
    sender = getattr(runtime, SENDER_ATTR, None)
    if not isinstance(sender, WebhookSender):
        raise RuntimeError("ingest plugin is not installed on this runtime")
    return sender
