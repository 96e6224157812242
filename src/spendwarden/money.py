"""Exact money: integer micro-dollars on the write path, decimal strings on the wire.

1 USD = 1,000,000 micros (the same as USDC's base unit), so every amount the ledger
stores is an ``int``. Floats are accepted at the edge only when their shortest
decimal representation has at most six decimals, and are parsed from that text,
never by multiplication.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from spendwarden.errors import InvalidAmount

MICROS_PER_USD = 1_000_000
DECIMALS = 6
# One trillion dollars: anything above is a typo or an attack, never a real spend.
MAX_MICROS = 10**12 * MICROS_PER_USD


def parse_amount(value: object, *, field: str = "amount_usd", allow_zero: bool = True) -> int:
    """Parse a JSON number or decimal string into micro-dollars, refusing anything inexact."""
    if isinstance(value, bool) or value is None:
        raise InvalidAmount(field, value, "must be a number or a decimal string")
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, float):
        dec = _decimal_from_text(repr(value), field, value)
    elif isinstance(value, str):
        dec = _decimal_from_text(value.strip(), field, value)
    elif isinstance(value, Decimal):
        dec = value
    else:
        raise InvalidAmount(field, value, "must be a number or a decimal string")
    return _to_micros(dec, field, value, allow_zero)


def _decimal_from_text(text: str, field: str, raw: object) -> Decimal:
    if not text or len(text) > 40:
        raise InvalidAmount(field, raw, "must be a decimal with at most 6 decimals")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidAmount(field, raw, "is not a decimal number") from None


def _to_micros(dec: Decimal, field: str, raw: object, allow_zero: bool) -> int:
    if not dec.is_finite():
        raise InvalidAmount(field, raw, "must be finite")
    if dec.is_signed() and dec != 0:
        raise InvalidAmount(field, raw, "must not be negative")
    exponent = dec.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -DECIMALS and dec != dec.quantize(Decimal(1).scaleb(-DECIMALS)):
        raise InvalidAmount(field, raw, "has more than 6 decimals")
    if dec > Decimal(MAX_MICROS) / MICROS_PER_USD:
        raise InvalidAmount(field, raw, "is absurdly large")
    micros = int(dec.scaleb(DECIMALS))
    if micros == 0 and not allow_zero:
        raise InvalidAmount(field, raw, "must be greater than zero")
    return micros


def format_amount(micros: int) -> str:
    """Render micros as a decimal string with six decimals, e.g. ``4500 -> "0.004500"``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}{whole}.{frac:06d}"


def usd(text: str) -> int:
    """Shorthand for literals in code and tests: ``usd("0.50") == 500_000``."""
    return parse_amount(text)
