from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import genai_prices
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import PricingUnavailable, ValidationFailed
from spendwarden.events import TokenUsage
from spendwarden.ingest.pricing import ModelPrice, PriceBook, genai_prices_version, make_pricer, price_usage


def _half_up(value: Fraction) -> int:
    whole, rest = divmod(value.numerator, value.denominator)
    return whole + (1 if 2 * rest >= value.denominator else 0)


def test_genai_prices_input_includes_cache_reads() -> None:
    """OpenTelemetry usage (input includes cache reads) must price like the per-token arithmetic."""
    usage = TokenUsage(input=10_000, output=2_000, cache_read=4_000)
    priced = price_usage("openai", "gpt-4o", usage)
    reference = genai_prices.calc_price(genai_prices.Usage(input_tokens=1, output_tokens=1), "gpt-4o")
    rates = reference.model_price
    assert isinstance(rates.input_mtok, Decimal)
    assert isinstance(rates.cache_read_mtok, Decimal)
    assert isinstance(rates.output_mtok, Decimal)
    expected = 6_000 * rates.input_mtok + 4_000 * rates.cache_read_mtok + 2_000 * rates.output_mtok
    assert priced.amount_micros == int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert priced.source == "genai-prices"
    assert (
        priced.amount_micros
        < price_usage("openai", "gpt-4o", TokenUsage(input=10_000, output=2_000)).amount_micros
    )


def test_anthropic_cache_writes_are_priced_inside_input() -> None:
    plain = price_usage("anthropic", "claude-sonnet-4-5", TokenUsage(input=3_000, output=100))
    cached = price_usage(
        "anthropic", "claude-sonnet-4-5", TokenUsage(input=3_000, output=100, cache_write=1_000)
    )
    assert cached.amount_micros > plain.amount_micros  # cache writes cost more than plain input


def test_price_version_names_the_genai_prices_release() -> None:
    priced = price_usage(None, "gpt-4o", TokenUsage(input=1, output=1))
    assert priced.price_version == f"genai-prices:{genai_prices.__version__}" == genai_prices_version()


def test_unknown_provider_falls_back_to_the_model_name() -> None:
    via_proxy = price_usage("my-gateway", "gpt-4o", TokenUsage(input=1_000, output=100))
    direct = price_usage("openai", "gpt-4o", TokenUsage(input=1_000, output=100))
    assert via_proxy == direct


def test_historic_timestamp_is_accepted() -> None:
    at = datetime(2024, 9, 1, tzinfo=UTC)
    priced = price_usage("openai", "gpt-4o", TokenUsage(input=1_000, output=100), at=at)
    assert priced.amount_micros > 0
    assert (
        price_usage("openai", "gpt-4o", TokenUsage(input=1_000, output=100), at=at.replace(tzinfo=None))
        == priced
    )


def test_custom_price_overrides_genai_prices() -> None:
    book = PriceBook({"gpt-4o": ModelPrice("1", "2")}, version="2025-06")
    priced = price_usage("openai", "gpt-4o", TokenUsage(input=1_000_000, output=1_000_000), book=book)
    assert priced.amount_micros == 3_000_000
    assert priced.price_version == "custom:2025-06"
    assert priced.source == "custom"


def test_provider_qualified_custom_price_wins_over_bare_model() -> None:
    book = PriceBook({"llama": ModelPrice("1", "1"), "Groq/LLAMA": ModelPrice("5", "5")})
    assert price_usage("groq", "llama", TokenUsage(input=1_000_000), book=book).amount_micros == 5_000_000
    assert price_usage("other", "llama", TokenUsage(input=1_000_000), book=book).amount_micros == 1_000_000


def test_custom_cache_prices_default_to_input_price() -> None:
    usage = TokenUsage(input=1_000_000, output=0, cache_read=500_000, cache_write=250_000)
    assert ModelPrice("2", "8").cost_micros(usage) == 2_000_000
    assert ModelPrice("2", "8", cache_read="0.2", cache_write="2.5").cost_micros(usage) == 1_225_000


def test_unknown_model_raises_never_zero() -> None:
    with pytest.raises(PricingUnavailable) as caught:
        price_usage("acme", "acme-secret-model-9", TokenUsage(input=10, output=10))
    assert caught.value.details == {"model": "acme-secret-model-9", "provider": "acme"}
    assert "acme-secret-model-9" in caught.value.message
    with pytest.raises(PricingUnavailable):
        price_usage(None, "acme-secret-model-9", TokenUsage(), book=PriceBook({}))


def test_unknown_model_uses_fallback_when_configured() -> None:
    book = PriceBook(version="v3", fallback=ModelPrice("10", "30"))
    priced = price_usage(None, "acme-secret-model-9", TokenUsage(input=1_000, output=1_000), book=book)
    assert priced == price_usage(None, "x", TokenUsage(input=1_000, output=1_000), book=book)
    assert priced.amount_micros == 40_000
    assert priced.source == "fallback"
    assert priced.price_version == "fallback:v3"


@pytest.mark.parametrize(
    ("input_rate", "tokens", "micros"),
    [("0.5", 1, 1), ("0.4999", 1, 0), ("1.5", 1, 2), ("2.5", 1, 3), ("0.0000005", 1_000_000, 1)],
)
def test_rounds_half_up_to_whole_micros(input_rate: str, tokens: int, micros: int) -> None:
    assert ModelPrice(input_rate, "0").cost_micros(TokenUsage(input=tokens)) == micros


@pytest.mark.parametrize("bad", ["-1", "NaN", "Infinity", "abc", True, None, [1]])
def test_model_price_refuses_bad_rates(bad: object) -> None:
    with pytest.raises(ValidationFailed):
        ModelPrice(bad, "1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(input=10, cache_read=11),
        TokenUsage(input=10, cache_read=6, cache_write=6),
        TokenUsage(input=-1),
    ],
)
def test_impossible_usage_is_refused(usage: TokenUsage) -> None:
    with pytest.raises(ValidationFailed):
        price_usage("openai", "gpt-4o", usage)


@st.composite
def usages(draw: st.DrawFn) -> TokenUsage:
    total = draw(st.integers(0, 10**9))
    cache_read = draw(st.integers(0, total))
    cache_write = draw(st.integers(0, total - cache_read))
    return TokenUsage(total, draw(st.integers(0, 10**9)), cache_read, cache_write)


rates = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)


@given(usages(), rates, rates, rates, rates)
def test_custom_price_is_exact(
    usage: TokenUsage, inp: Decimal, out: Decimal, read: Decimal, write: Decimal
) -> None:
    price = ModelPrice(inp, out, read, write)
    uncached = usage.input - usage.cache_read - usage.cache_write
    exact = (
        Fraction(inp) * uncached
        + Fraction(read) * usage.cache_read
        + Fraction(write) * usage.cache_write
        + Fraction(out) * usage.output
    )
    assert price.cost_micros(usage) == _half_up(exact)


@given(usages())
def test_genai_prices_never_crashes_on_valid_usage(usage: TokenUsage) -> None:
    priced = price_usage("anthropic", "claude-sonnet-4-5", usage)
    assert priced.amount_micros >= 0
    if usage.input + usage.output == 0:
        assert priced.amount_micros == 0
    # A token at full price (input, output or a cache write: $3-15 per million) is worth at
    # least one micro-dollar; a cache read ($0.30 per million) alone may round to zero.
    if usage.input - usage.cache_read + usage.output > 0:
        assert priced.amount_micros > 0


def test_pricer_adapter_for_the_ledger() -> None:
    pricer = make_pricer(PriceBook({"local-llm": ModelPrice("1", "1")}, version="lab"))
    at = datetime(2025, 6, 1, tzinfo=UTC)
    assert pricer(None, "local-llm", TokenUsage(input=2, output=3), at) == (5, "custom:lab")
    assert pricer("openai", "gpt-4o", TokenUsage(input=9), at)[1].startswith("genai-prices:")
