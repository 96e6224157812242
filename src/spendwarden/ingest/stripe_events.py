"""Stripe webhooks: verify with Stripe's own scheme, then map events to ledger entries.

What becomes a ledger row, and why:

* ``payment_intent.succeeded`` -> settled payment (``amount_received``).
* ``charge.succeeded`` -> settled payment only for a charge with no PaymentIntent; a
  charge made by a PaymentIntent is already counted by ``payment_intent.succeeded``
  (Stripe sends both), and counting it twice would double the spend.
* ``charge.refunded`` -> a ``refunded`` entry for the newly refunded amount (the delta of
  ``amount_refunded`` against ``previous_attributes``), external id
  ``"<charge id>:refund:<cumulative refunded>"`` so each refund step is its own row.
* ``issuing_transaction.created`` -> settled card spend (rail ``card``); a refund-type
  transaction becomes a ``refunded`` entry.
* ``issuing_authorization.*`` -> nothing when approved or pending: an authorization is a
  hold whose money moves only when the transaction arrives, and recording both would
  double count. A *declined* ``issuing_authorization.created`` is recorded as ``failed``
  (amount kept) so failure-rate signals see it.

Every other event type maps to ``[]``. The mapping is deterministic: the same event always
gives the same entries, so with ``(source, external_id)`` uniqueness a redelivery is a no-op.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import stripe

from spendwarden.errors import SignatureInvalid
from spendwarden.events import SpendEvent
from spendwarden.ingest.common import (
    UnknownAgent,
    UnsupportedCurrency,
    as_mapping,
    check_int,
    check_slug,
    check_str,
    decimal_of,
    invalid,
    micros_half_up,
    require,
    unix_to_datetime,
)
from spendwarden.text import NUL

AgentLookup = Callable[[Mapping[str, Any]], "str | None"]
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
AGENT_METADATA_KEYS = ("spendwarden_agent", "agent_id")


def verify_stripe(
    payload: bytes, sig_header: str | None, secrets: list[str], tolerance: int = 300, now: int | None = None
) -> dict[str, Any]:
    """Check the ``Stripe-Signature`` header against each secret (rotation) and return the event.

    The HMAC check is ``stripe.WebhookSignature.verify_header``; the age check is ours so
    the clock can be injected. ``details.reason`` says which check failed.
    """
    if not sig_header:
        raise SignatureInvalid("The Stripe-Signature header is missing.", reason="missing_header")
    timestamp = _signed_at(sig_header)
    if not any(_matches(payload, sig_header, secret) for secret in secrets if secret.strip()):
        raise SignatureInvalid("No Stripe signature matches this payload.", reason="no_matching_signature")
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureInvalid(
            f"The Stripe signature timestamp is outside the {tolerance}s tolerance.",
            reason="timestamp_outside_tolerance",
            timestamp=timestamp,
        )
    return _event_dict(payload)


def _signed_at(header: str) -> int:
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    if len(stamps) != 1 or not stamps[0].isdigit() or "v1=" not in header:
        raise SignatureInvalid("The Stripe-Signature header is malformed.", reason="malformed_header")
    return int(stamps[0])


def _matches(payload: bytes, header: str, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return False
    return True


def _event_dict(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise invalid("body", "is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or "type" not in event:
        raise invalid("body", "is not a Stripe event (needs id and type)")
    return event


def map_stripe_event(
    event: Mapping[str, Any] | stripe.Event,
    agent_for: AgentLookup,
    *,
    usd_rates: Mapping[str, Decimal | str] | None = None,
) -> list[SpendEvent]:
    """Map one verified Stripe event (a dict or a ``stripe.Event``).

    ``usd_rates`` (USD per major unit, e.g. ``{"eur": "1.08"}``) lets non-USD amounts
    convert; without a rate they raise ``unsupported_currency``.
    """
    event = event.to_dict() if isinstance(event, stripe.StripeObject) else as_mapping(event, "event")
    handler = _HANDLERS.get(check_str("type", require(event, "type")))
    if handler is None:
        return []
    data = as_mapping(require(event, "data"), "data")
    obj = as_mapping(require(data, "object", where="data"), "data.object")
    ctx = _Context(event, data, obj, agent_for, usd_rates or {})
    return handler(ctx)


class _Context:
    """The parts of one event every handler needs."""

    def __init__(
        self,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        obj: Mapping[str, Any],
        agent_for: AgentLookup,
        rates: Mapping[str, Decimal | str],
    ) -> None:
        self.event, self.data, self.obj, self.agent_for, self.rates = event, data, obj, agent_for, rates

    def spend(self, minor: int, **fields: Any) -> SpendEvent:
        currency_code = check_str("currency", require(self.obj, "currency"), max_len=3)
        amount, original, currency = _to_micros(minor, currency_code, self.rates)
        metadata = {"stripe_event_id": self.event.get("id"), "stripe_event_type": self.event.get("type")}
        defaults: dict[str, Any] = {
            "agent_id": self.agent(),
            "amount": amount,
            "rail": "stripe",
            "kind": "payment",
            "source": "stripe",
            "external_id": check_str("data.object.id", require(self.obj, "id")),
            "occurred_at": unix_to_datetime("created", self.obj.get("created") or self.event.get("created")),
            "original_amount": original,
            "original_currency": currency,
            "description": _short(self.obj.get("description")),
            "metadata": metadata,
        }
        return SpendEvent(**{**defaults, **fields})

    def agent(self) -> str:
        metadata = self.obj.get("metadata") or {}
        for key in AGENT_METADATA_KEYS:
            if isinstance(metadata, Mapping) and metadata.get(key):
                return check_slug(f"metadata.{key}", metadata[key])
        agent = self.agent_for(self.obj)
        if agent is None:
            raise UnknownAgent(
                "No agent for this Stripe object: set metadata.spendwarden_agent "
                "or map its customer/cardholder to an agent.",
                object_id=_short(self.obj.get("id")),
                customer=_short(self.obj.get("customer")),
                cardholder=_short(self.obj.get("cardholder")),
            )
        return check_slug("agent_id", agent)


def _payment_intent(ctx: _Context) -> list[SpendEvent]:
    received = ctx.obj.get("amount_received", ctx.obj.get("amount"))
    return [ctx.spend(check_int("amount_received", received), vendor=_vendor(ctx.obj))]


def _charge(ctx: _Context) -> list[SpendEvent]:
    if ctx.obj.get("payment_intent"):
        return []
    amount = check_int("amount", require(ctx.obj, "amount"))
    return [ctx.spend(amount, vendor=_vendor(ctx.obj))]


def _charge_refunded(ctx: _Context) -> list[SpendEvent]:
    total = check_int("amount_refunded", require(ctx.obj, "amount_refunded"))
    previous = as_mapping(ctx.data.get("previous_attributes") or {}, "data.previous_attributes")
    before = check_int("previous_attributes.amount_refunded", previous.get("amount_refunded", 0))
    if total <= before:
        return []
    external_id = f"{ctx.obj['id']}:refund:{total}"
    return [ctx.spend(total - before, status="refunded", external_id=external_id, vendor=_vendor(ctx.obj))]


def _issuing_transaction(ctx: _Context) -> list[SpendEvent]:
    """Issuing amounts are negative for purchases and positive for refunds."""
    amount = ctx.obj.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid("amount", "must be an integer")
    status = "refunded" if ctx.obj.get("type") == "refund" else "settled"
    return [ctx.spend(abs(amount), rail="card", status=status, vendor=_merchant(ctx.obj))]


def _issuing_authorization(ctx: _Context) -> list[SpendEvent]:
    if ctx.event.get("type") != "issuing_authorization.created" or ctx.obj.get("approved") is not False:
        return []
    pending = as_mapping(ctx.obj.get("pending_request") or {}, "pending_request")
    amount = ctx.obj.get("amount") or pending.get("amount") or 0
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid("amount", "must be an integer")
    return [ctx.spend(abs(amount), rail="card", status="failed", vendor=_merchant(ctx.obj))]


_HANDLERS: dict[str, Callable[[_Context], list[SpendEvent]]] = {
    "payment_intent.succeeded": _payment_intent,
    "charge.succeeded": _charge,
    "charge.refunded": _charge_refunded,
    "issuing_transaction.created": _issuing_transaction,
    "issuing_authorization.created": _issuing_authorization,
    "issuing_authorization.updated": _issuing_authorization,
    "issuing_authorization.request": _issuing_authorization,
}


def _to_micros(
    minor: int, currency: str, rates: Mapping[str, Decimal | str]
) -> tuple[int, str | None, str | None]:
    """Stripe minor units to micros: USD exactly (1 cent = 10,000 micros), others only with a rate."""
    code = currency.lower()
    if code == "usd":
        return micros_half_up(Decimal(minor).scaleb(-2)), None, None
    rate = rates.get(code)
    if rate is None:
        raise UnsupportedCurrency(
            f"Stripe amount is in {code.upper()}; configure a USD rate for it.", field="currency", value=code
        )
    major = Decimal(minor).scaleb(-_exponent(code))
    return micros_half_up(major * decimal_of(f"usd_rates.{code}", rate)), str(major), code.upper()


def _exponent(code: str) -> int:
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def _vendor(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata") or {}
    vendor = metadata.get("vendor") if isinstance(metadata, Mapping) else None
    return _short(vendor or obj.get("statement_descriptor") or obj.get("calculated_statement_descriptor"))


def _merchant(obj: Mapping[str, Any]) -> str | None:
    merchant = obj.get("merchant_data") or {}
    return _short(merchant.get("name") if isinstance(merchant, Mapping) else None)


def _short(value: object) -> str | None:
    """Stripe free text, cut to the ledger's bounds and rid of NUL rather than refused
    (Stripe, not us, wrote it)."""
    if not isinstance(value, str):
        return None
    return value.replace(NUL, "")[:256] or None
