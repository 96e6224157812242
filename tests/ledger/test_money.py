"""Money parsing and formatting: exact, and refusing everything inexact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import InvalidAmount
from spendwarden.money import MAX_MICROS, format_amount, parse_amount


@pytest.mark.parametrize(
    ("raw", "micros"),
    [
        ("0.0045", 4500),
        ("1", 1_000_000),
        (1, 1_000_000),
        (0.1, 100_000),
        ("0.000001", 1),
        ("12.340000", 12_340_000),
        (0, 0),
        ("1e2", 100_000_000),
        (Decimal("2.5"), 2_500_000),
    ],
)
def test_parses_exact_amounts(raw: object, micros: int) -> None:
    assert parse_amount(raw) == micros


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        -0.5,
        "NaN",
        "Infinity",
        float("inf"),
        float("nan"),
        "0.0000001",
        1e-7,
        "abc",
        "",
        None,
        True,
        [],
        {},
        "1" * 41,
        "1e30",
        10**20,
    ],
)
def test_refuses_inexact_or_hostile_amounts(raw: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(raw)


def test_zero_can_be_refused() -> None:
    with pytest.raises(InvalidAmount):
        parse_amount("0", allow_zero=False)


@given(st.integers(min_value=0, max_value=MAX_MICROS))
def test_format_then_parse_round_trips(micros: int) -> None:
    text = format_amount(micros)
    assert len(text.split(".")[1]) == 6
    assert parse_amount(text) == micros


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_decimal_strings_with_six_places_are_exact(value: Decimal) -> None:
    assert parse_amount(str(value)) == int(value * 1_000_000)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_never_crash_and_never_round(value: float) -> None:
    try:
        micros = parse_amount(value)
    except InvalidAmount:
        return
    assert Decimal(micros) / 1_000_000 == Decimal(repr(value))
