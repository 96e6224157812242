"""Small pieces every ingest mapper shares: error classes, slugs, exact rounding, field access.

Kept apart so the rail mappers (Stripe, x402, L402, canonical JSON) give the same error
codes and round money the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from spendwarden.errors import ValidationFailed
from spendwarden.money import MAX_MICROS, MICROS_PER_USD
from spendwarden.text import NUL, REASON

SLUG_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")
MAX_FUTURE = timedelta(minutes=5)


class UnknownField(ValidationFailed):
    code = "unknown_field"


class MissingField(ValidationFailed):
    code = "missing_field"


class InvalidField(ValidationFailed):
    code = "invalid_field"


class UnknownAgent(ValidationFailed):
    code = "unknown_agent"
    default_message = "No agent is mapped to this record."


class InvalidJSON(ValidationFailed):
    code = "invalid_json"
    default_message = "The body is not valid JSON."


class EmptyBody(ValidationFailed):
    code = "empty_body"
    default_message = "The body holds no events."


class SourceForbidden(ValidationFailed):
    code = "source_forbidden"
    status = 403
    default_message = "This ingest token may not write events of this source."


class UnsupportedCurrency(ValidationFailed):
    code = "unsupported_currency"
    default_message = "Only USD converts without an exchange rate."


def invalid(field: str, reason: str, **details: Any) -> InvalidField:
    """One message shape for every field error: ``"<field> <reason>."``."""
    return InvalidField(f"{field} {reason}.", field=field, **details)


def require(data: Mapping[str, Any], field: str, *, where: str | None = None) -> Any:
    """Fetch a field that must be present (and not null)."""
    value = data.get(field)
    if value is None:
        name = f"{where}.{field}" if where else field
        raise MissingField(f"{name} is required.", field=name)
    return value


def as_mapping(obj: object, field: str) -> Mapping[str, Any]:
    """Accept a dict or a pydantic model (SDK objects) and hand back a mapping."""
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        dumped = dump(by_alias=True)
        if isinstance(dumped, Mapping):
            return dumped
    raise invalid(field, "must be an object", type=type(obj).__name__)


def check_slug(field: str, value: object) -> str:
    """Agent ids and other identifiers: 1-64 of ``a-z0-9_.-``."""
    if not isinstance(value, str) or not SLUG_RE.match(value):
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise invalid(field, "must be 1-64 characters of a-z, 0-9, '_', '.', '-'", value=shown)
    return value


def check_int(field: str, value: object, *, minimum: int = 0, maximum: int = 10**18) -> int:
    """A JSON integer within bounds; booleans and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer", type=type(value).__name__)
    if not minimum <= value <= maximum:
        raise invalid(field, f"must be between {minimum} and {maximum}", value=value)
    return value


def check_str(field: str, value: object, *, max_len: int = 256) -> str:
    """A non-empty string no longer than ``max_len``, without NUL (``text.py``)."""
    if not isinstance(value, str):
        raise invalid(field, "must be a string", type=type(value).__name__)
    if not value or len(value) > max_len:
        raise invalid(field, f"must be 1-{max_len} characters", length=len(value))
    if NUL in value:
        raise invalid(field, REASON)
    return value


def optional_str(data: Mapping[str, Any], field: str, *, max_len: int = 256) -> str | None:
    value = data.get(field)
    return None if value is None else check_str(field, value, max_len=max_len)


def decimal_of(field: str, value: object) -> Decimal:
    """A non-negative finite decimal from an int, a decimal string, a Decimal or a JSON float.

    A float is read from its shortest text (``repr``), as ``money.parse_amount`` does, so
    ``97000.12`` means exactly 97000.12 and not its binary neighbour.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        raise invalid(field, "must be a number or a decimal string", type=type(value).__name__)
    text = repr(value) if isinstance(value, float) else value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and len(text) > 64:
        raise invalid(field, "is too long", length=len(text))
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise invalid(field, "is not a decimal number", value=str(value)[:80]) from None
    if not dec.is_finite() or dec < 0:
        raise invalid(field, "must be a finite, non-negative number", value=str(value)[:80])
    return dec


def micros_half_up(usd: Decimal, *, field: str = "amount") -> int:
    """Convert an exact USD amount to whole micros, rounding half up (0.5 micro -> 1).

    Half-up is what people expect from a receipt; it only applies where the source unit is
    finer than a micro (token prices, sats, 18-decimal tokens, FX rates).
    """
    with localcontext() as ctx:
        ctx.prec = 80
        micros = (usd * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if micros < 0 or micros > MAX_MICROS:
        raise invalid(field, "is out of range", value=str(usd)[:80])
    return int(micros)


def unix_to_datetime(field: str, value: object) -> datetime:
    """Unix seconds (Stripe's ``created``) to aware UTC."""
    seconds = check_int(field, value, minimum=0, maximum=253402300799)
    return datetime.fromtimestamp(seconds, UTC)


def parse_timestamp(field: str, value: object, *, now: datetime) -> datetime:
    """ISO-8601 with an offset (or ``Z``), or unix seconds; never more than 5 minutes ahead of ``now``."""
    if isinstance(value, int) and not isinstance(value, bool):
        when = unix_to_datetime(field, value)
    elif isinstance(value, str) and 0 < len(value) <= 64:
        when = _iso(field, value)
    else:
        raise invalid(field, "must be an ISO-8601 timestamp with a timezone")
    if when > now + MAX_FUTURE:
        raise invalid(field, "is more than 5 minutes in the future", value=value)
    return when


def _iso(field: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, "is not an ISO-8601 timestamp", value=text) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise invalid(field, "must include a timezone (e.g. 'Z' or '+00:00')", value=text)
    return when.astimezone(UTC)
