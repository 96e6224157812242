"""Inbound webhooks (Stripe, x402, L402): verify, map with the rail mappers, record in bulk.

Decisions, and why:

* Stripe deliveries are verified with the ``stripe`` library against every configured
  secret (rotation), with the injected clock deciding staleness. Each processed event id is
  kept with a digest of its ``type`` and ``data``: a redelivery answers ``{"duplicate":
  true}``; a *different* payload under an already processed id is refused (409
  ``stripe_event_conflict``), because Stripe never changes an event, so that is a forgery
  with a leaked secret or a bug. Entries are keyed by Stripe object ids, so even without
  the log nothing would count twice.
* An event that cannot be mapped (no agent yet) answers 422 and is *not* logged, so
  Stripe's own retries land it once the mapping exists.
* x402 and L402 records come from our own payment gates, so they authenticate with a
  bearer token (admin, or an ``ingest`` token whose label ``source:x402`` limits it to that
  rail) instead of a second signature scheme. Payer and payTo addresses map to agents via
  ``agent_addresses``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from spendwarden.clock import to_us
from spendwarden.config import Settings
from spendwarden.db import queries_ingest as qi
from spendwarden.errors import Conflict, SignatureInvalid
from spendwarden.events import SpendEvent
from spendwarden.ingest.canonical import ParseError, numbered_items
from spendwarden.ingest.common import EmptyBody, InvalidJSON, UnknownAgent
from spendwarden.ingest.l402 import map_l402_invoice
from spendwarden.ingest.pipeline import Mapper, ingest_items
from spendwarden.ingest.stripe_events import map_stripe_event, verify_stripe
from spendwarden.ingest.x402 import map_x402_settlement
from spendwarden.ledger.bulk import record_batch
from spendwarden.ledger.context import LedgerCore


class StripeEventConflict(Conflict):
    code = "stripe_event_conflict"
    default_message = "This Stripe event id was already processed with different content."


@dataclass(frozen=True)
class StripeOutcome:
    event_id: str
    duplicate: bool
    transaction_ids: list[str]

    def body(self) -> dict[str, Any]:
        return {
            "received": True,
            "event_id": self.event_id,
            "duplicate": self.duplicate,
            "transactions": self.transaction_ids,
        }


def stripe_secrets(settings: Settings) -> list[str]:
    raw = settings.stripe_webhook_secret or ""
    found = [part.strip() for part in raw.split(",") if part.strip()]
    if not found:
        raise SignatureInvalid("No Stripe webhook secret is configured.", reason="no_secret_configured")
    return found


def receive_stripe(core: LedgerCore, payload: bytes, signature: str | None) -> StripeOutcome:
    settings = core.settings
    now = core.clock.now()
    event = verify_stripe(
        payload, signature, stripe_secrets(settings), settings.stripe_tolerance_seconds, int(now.timestamp())
    )
    digest = _digest(event)
    with core.store.read() as conn:
        seen = qi.get_stripe_event(conn, event["id"])
        if seen is None:
            entries = map_stripe_event(
                event, lambda obj: _stripe_agent(conn, obj), usd_rates=settings.stripe_usd_rates
            )
    if seen is not None:
        if seen["digest"] != digest:
            raise StripeEventConflict(event_id=event["id"])
        return StripeOutcome(event["id"], True, [])
    ids, duplicate = _record_all(core, entries)
    with core.store.write() as conn:
        qi.insert_stripe_event(
            conn,
            {"id": event["id"], "type": str(event["type"])[:100], "digest": digest, "entries": len(ids),
             "received_at": to_us(now)},
        )  # fmt: skip
    return StripeOutcome(event["id"], duplicate, ids)


def _digest(event: Mapping[str, Any]) -> str:
    """What an event says, not how it was delivered (``pending_webhooks`` changes per retry)."""
    canonical = orjson.dumps(
        {"type": event.get("type"), "data": event.get("data")}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


def _stripe_agent(conn: Connection, obj: Mapping[str, Any]) -> str | None:
    ids = [obj[k] for k in ("customer", "cardholder") if isinstance(obj.get(k), str)]
    card = obj.get("card")
    if isinstance(card, Mapping) and isinstance(card.get("cardholder"), Mapping | str):
        holder = card["cardholder"]
        ids.append(holder["id"] if isinstance(holder, Mapping) else holder)
    return qi.stripe_agent(conn, [i for i in ids if isinstance(i, str)])


def _record_all(core: LedgerCore, entries: list[SpendEvent]) -> tuple[list[str], bool]:
    """All entries of one delivery, or a clear error: an unknown agent refuses the delivery."""
    if not entries:
        return [], False
    result = record_batch(core, entries)
    if result.rejected:
        first = next(iter(result.rejected.values()))
        raise UnknownAgent(first.message, **first.details)
    ids = [result.accepted[i] for i in sorted(result.accepted)]
    return ids, not ids and bool(result.duplicates)


# --- x402 and L402 ----------------------------------------------------------------------


def rail_mapper(core: LedgerCore, conn: Connection, rail: str, now: datetime) -> Mapper:
    def by_address(address: str) -> str | None:
        return qi.address_agent(conn, normal_address(address))

    if rail == "x402":
        return lambda raw: map_x402_settlement(raw, agent_for_address=by_address, now=now)

    def by_payer(record: Mapping[str, Any]) -> str | None:
        payer = record.get("payer") or record.get("node_id")
        return by_address(payer) if isinstance(payer, str) else None

    rate = core.settings.l402_btc_usd
    return lambda raw: map_l402_invoice(raw, now=now, default_btc_usd=rate, agent_for=by_payer)


def receive_rail(core: LedgerCore, rail: str, payload: bytes) -> tuple[dict[str, Any], bool]:
    """One record (answered alone; a bad one is an error) or an array (answered per item).

    Returns the body and whether it answers a single record.
    """
    items = numbered_items(payload)
    if not items:
        raise EmptyBody()
    first = items[0][1]
    if isinstance(first, ParseError) and first.line == 0:
        raise InvalidJSON(first.message)
    with core.store.read() as conn:
        mapper = rail_mapper(core, conn, rail, core.clock.now())
        if payload.lstrip()[:1] != b"{" or len(items) != 1:
            return ingest_items(core, items, mapper, batch_size=core.settings.ingest_batch_size).body(), False
        if isinstance(first, ParseError):
            raise InvalidJSON(first.message)
        event = mapper(first)
    ids, duplicate = _record_all(core, [event])
    return {"id": ids[0] if ids else None, "duplicate": duplicate, "external_id": event.external_id}, True


def normal_address(address: str) -> str:
    """EVM addresses are case-insensitive (checksum case), so they are stored lowercased."""
    text = address.strip()
    return text.lower() if text.startswith(("0x", "0X")) else text
