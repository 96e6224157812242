"""The canonical JSON spend event: what ``POST /v1/ingest/events`` and ``/v1/transactions`` accept.

Validation is strict (unknown fields are refused, every string is bounded) because this
is the one door through which any client can write to the ledger. A body may hold many
events; ``parse_ndjson_or_array`` splits it so one bad line never drops the good ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from spendwarden.events import KINDS, STATUSES, SpendEvent, TokenUsage
from spendwarden.ingest.common import (
    SLUG_RE,
    InvalidField,
    MissingField,
    UnknownField,
    UnsupportedCurrency,
    check_int,
    check_slug,
    decimal_of,
    invalid,
    optional_str,
    parse_timestamp,
)
from spendwarden.ingest.llm_usage import usage_from_dict
from spendwarden.money import parse_amount
from spendwarden.text import REASON, nul_at

MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 5
MAX_ATTEMPT = 1000
MAX_ORIGINAL = Decimal(10) ** 24
SHORT_FIELDS = ("vendor", "tool", "task_id", "user_id", "external_id", "price_version")
LONG_FIELDS = {"description": 2000, "endpoint": 1024}
ALLOWED = frozenset(
    {
        *SHORT_FIELDS,
        *LONG_FIELDS,
        "model",
        "agent_id",
        "amount_usd",
        "usage",
        "rail",
        "kind",
        "status",
        "attempt",
        "counterparty_agent_id",
        "description",
        "metadata",
        "source",
        "occurred_at",
        "currency",
        "original_amount",
        "original_currency",
    }
)


@dataclass(frozen=True)
class ParsedEvent:
    """A valid event, and whether the caller still has to price it.

    An event sent with ``usage`` but no ``amount_usd`` has ``event.amount == 0`` and
    ``needs_pricing``: price ``event.usage`` for ``provider``/``event.model`` before the ledger.
    """

    event: SpendEvent
    needs_pricing: bool
    provider: str | None = None


@dataclass(frozen=True)
class ParseError:
    """One item of a bulk body that is not even JSON; ``line`` is 1-based (NDJSON) or 0 (array)."""

    line: int
    message: str
    code: str = "invalid_json"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": {"line": self.line}}


def parse_event(raw: object, *, default_source: str = "api", now: datetime) -> ParsedEvent:
    """Validate one canonical event; ``now`` bounds ``occurred_at`` and fills it when absent."""
    if not isinstance(raw, Mapping):
        raise InvalidField("An event must be a JSON object.", field="", type=type(raw).__name__)
    _refuse_unknown(raw)
    amount, usage, model, provider = _amount_and_usage(raw)
    fields: dict[str, Any] = {name: optional_str(raw, name) for name in SHORT_FIELDS}
    fields.update({name: optional_str(raw, name, max_len=size) for name, size in LONG_FIELDS.items()})
    fields["model"] = model
    fields.update(_currency(raw))
    event = SpendEvent(
        agent_id=check_slug("agent_id", _required(raw, "agent_id")),
        amount=0 if amount is None else amount,
        rail=_slug_or(raw, "rail", "llm_api"),
        usage=usage,
        kind=_enum(raw, "kind", KINDS, "llm_call"),
        status=_enum(raw, "status", STATUSES, "settled"),
        attempt=check_int("attempt", _value(raw, "attempt", 1), minimum=1, maximum=MAX_ATTEMPT),
        counterparty_agent_id=_optional_slug(raw, "counterparty_agent_id"),
        metadata=_metadata(raw.get("metadata")),
        source=_slug_or(raw, "source", default_source),
        occurred_at=_occurred_at(raw, now),
        **fields,
    )
    return ParsedEvent(event, needs_pricing=amount is None, provider=provider)


def parse_ndjson_or_array(body: bytes) -> list[object | ParseError]:
    """Split a bulk body into items: a JSON array, or one JSON value per line (NDJSON)."""
    return [item for _line, item in numbered_items(body)]


def numbered_items(body: bytes, *, ndjson: bool = False) -> list[tuple[int, object | ParseError]]:
    """Like ``parse_ndjson_or_array``, with each item's line (NDJSON) or 1-based position (array).

    ``ndjson`` skips the array check (``Content-Type: application/x-ndjson``).
    """
    text = body.removeprefix(b"\xef\xbb\xbf")
    lines = text.split(b"\n")
    if not ndjson and text.lstrip()[:1] == b"[":
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if not _is_ndjson(lines):
                return [(0, ParseError(0, f"The JSON array is malformed: {exc}"))]
        else:
            if isinstance(items, list):
                return list(enumerate(items, 1))
    return [(number, _ndjson_line(number, line)) for number, line in enumerate(lines, 1) if line.strip()]


def _is_ndjson(lines: list[bytes]) -> bool:
    """NDJSON whose first value happens to be an array: the first line parses alone, more follow."""
    filled = [line for line in lines if line.strip()]
    return len(filled) > 1 and not isinstance(_ndjson_line(1, filled[0]), ParseError)


def _ndjson_line(number: int, line: bytes) -> object | ParseError:
    try:
        item: object = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return ParseError(number, f"Line {number} is not valid JSON: {exc}")
    return item


def _value(raw: Mapping[str, Any], name: str, default: object) -> object:
    """JSON ``null`` means "not given", so optional fields fall back to their default."""
    value = raw.get(name)
    return default if value is None else value


def _has(raw: Mapping[str, Any], name: str) -> bool:
    return raw.get(name) is not None


def _required(raw: Mapping[str, Any], name: str) -> object:
    if not _has(raw, name):
        raise MissingField(f"{name} is required.", field=name)
    return raw[name]


def _occurred_at(raw: Mapping[str, Any], now: datetime) -> datetime:
    return parse_timestamp("occurred_at", raw["occurred_at"], now=now) if _has(raw, "occurred_at") else now


def _refuse_unknown(raw: Mapping[Any, Any]) -> None:
    for key in raw:
        if key not in ALLOWED:
            hint = " (use amount_usd)" if key == "amount" else ""
            shown = str(key)[:64]
            raise UnknownField(f"Unknown field {shown!r}{hint}.", field=shown)


def _amount_and_usage(raw: Mapping[str, Any]) -> tuple[int | None, TokenUsage | None, str | None, str | None]:
    """``amount_usd`` wins when both are given; ``usage`` alone means the server prices the call."""
    model = optional_str(raw, "model", max_len=200)
    usage: TokenUsage | None = None
    provider: str | None = None
    if _has(raw, "usage"):
        report = usage_from_dict(raw["usage"], model=model)
        if model is not None and report.model != model:
            raise invalid("usage.model", "differs from model", model=model, usage_model=report.model)
        usage, model, provider = report.usage, report.model, report.provider
    if _has(raw, "amount_usd"):
        return parse_amount(raw["amount_usd"]), usage, model, provider
    if usage is None:
        raise MissingField("amount_usd (or usage to be priced) is required.", field="amount_usd")
    return None, usage, model, provider


def _currency(raw: Mapping[str, Any]) -> dict[str, str | None]:
    """``amount_usd`` is always USD; a native amount travels in ``original_amount``/``original_currency``."""
    original_amount = _original_amount(raw.get("original_amount"))
    original_currency = optional_str(raw, "original_currency", max_len=12)
    if original_currency is not None:
        original_currency = original_currency.upper()
    if (original_amount is None) != (original_currency is None):
        raise invalid("original_currency", "and original_amount must be given together")
    currency = optional_str(raw, "currency", max_len=12)
    if currency is not None and currency.upper() not in ("USD", original_currency):
        raise UnsupportedCurrency(
            f"currency {currency!r} is not USD: send amount_usd in USD and the native amount "
            "as original_amount/original_currency.",
            field="currency",
            value=currency,
        )
    return {"original_amount": original_amount, "original_currency": original_currency}


def _original_amount(value: object) -> str | None:
    """The native amount as plain decimal text, bounded so it stays a sane string."""
    if value is None:
        return None
    dec = decimal_of("original_amount", value)
    exponent = dec.as_tuple().exponent
    if dec > MAX_ORIGINAL or (isinstance(exponent, int) and exponent < -18):
        raise invalid(
            "original_amount", "must be at most 10^24 with at most 18 decimals", value=str(value)[:80]
        )
    return format(dec, "f")


def _enum(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _value(raw, name, default)
    if value not in allowed:
        raise invalid(name, f"must be one of {', '.join(allowed)}", value=str(value)[:64])
    return str(value)


def _slug_or(raw: Mapping[str, Any], name: str, default: str) -> str:
    """Rails and sources: the known names or any other lowercase slug (new rails need no release)."""
    value = _value(raw, name, default)
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise invalid(name, "must be a lowercase slug such as 'llm_api' or 'stripe'", value=str(value)[:64])
    return value


def _optional_slug(raw: Mapping[str, Any], name: str) -> str | None:
    return check_slug(name, raw[name]) if _has(raw, name) else None


def _metadata(value: object) -> dict[str, Any]:
    """Free-form, but small and shallow: it is copied into every row and hashed into the chain."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("metadata", "must be an object")
    _check_depth(value, 1)
    where = nul_at(value, "metadata")
    if where is not None:
        raise invalid(where, REASON)
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        raise invalid("metadata", "must contain only JSON values") from None
    if size > MAX_METADATA_BYTES:
        raise invalid("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as JSON", size=size)
    return value


def _check_depth(value: object, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise invalid("metadata", f"must nest at most {MAX_METADATA_DEPTH} levels")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        if isinstance(child, (dict, list)):
            _check_depth(child, depth + 1)
    if isinstance(value, dict) and not all(isinstance(key, str) for key in value):
        raise invalid("metadata", "keys must be strings")
