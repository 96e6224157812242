"""Price LLM token usage in exact micro-dollars.

Order of trust: a custom price from the operator's ``PriceBook`` (negotiated rates,
self-hosted models), then the ``genai-prices`` data bundled with the installed package,
then the book's fallback price. A model nobody can price raises ``PricingUnavailable``:
a silent zero would let an agent spend without touching its caps.

Rounding: the exact Decimal cost is rounded half up to whole micros, once per call.
``price_version`` records which data priced the row, e.g. ``"genai-prices:0.2.3"`` or
``"custom:2025-06"``, so a later price change never rewrites what a past row means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Literal

import genai_prices
from genai_prices import data_snapshot

from spendwarden.clock import utc
from spendwarden.errors import PricingUnavailable
from spendwarden.events import TokenUsage
from spendwarden.ingest.common import decimal_of, micros_half_up
from spendwarden.ingest.llm_usage import check_usage

PriceSource = Literal["custom", "genai-prices", "fallback"]


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens (``Decimal`` or decimal string; e.g. ``"3"`` = $3/MTok).

    ``cache_read``/``cache_write`` default to the input price when not given, so a
    model without cache discounts needs only two numbers.
    """

    input: Decimal | str | int
    output: Decimal | str | int
    cache_read: Decimal | str | int | None = None
    cache_write: Decimal | str | int | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cache_read", "cache_write"):
            value = getattr(self, name)
            if value is not None or name in ("input", "output"):
                object.__setattr__(self, name, decimal_of(f"price.{name}", value))

    def cost_micros(self, usage: TokenUsage) -> int:
        """$/MTok times tokens is exactly micro-dollars, so no scaling is needed before rounding."""
        rates = self._rates()
        uncached = usage.input - usage.cache_read - usage.cache_write
        with localcontext() as ctx:
            ctx.prec = 80
            micros = (
                uncached * rates[0] + usage.cache_read * rates[1] + usage.cache_write * rates[2]
            ) + usage.output * rates[3]
        return micros_half_up(micros / 1_000_000, field="price")

    def _rates(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        def dec(value: object) -> Decimal:
            assert isinstance(value, Decimal)
            return value

        base = dec(self.input)
        read = base if self.cache_read is None else dec(self.cache_read)
        write = base if self.cache_write is None else dec(self.cache_write)
        return base, read, write, dec(self.output)


@dataclass(frozen=True)
class PriceBook:
    """The operator's own prices. Keys are ``"model"`` or ``"provider/model"`` (case-insensitive)."""

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    version: str = "custom"
    fallback: ModelPrice | None = None

    def find(self, provider: str | None, model: str) -> ModelPrice | None:
        lowered = {key.lower(): price for key, price in self.prices.items()}
        if provider is not None and (price := lowered.get(f"{provider.lower()}/{model.lower()}")):
            return price
        return lowered.get(model.lower())


@dataclass(frozen=True)
class Priced:
    amount_micros: int
    price_version: str
    source: PriceSource


def price_usage(
    provider: str | None,
    model: str,
    usage: TokenUsage,
    *,
    at: datetime | None = None,
    book: PriceBook | None = None,
) -> Priced:
    """Price one call; ``at`` picks the price in force then (``None`` = now, per genai-prices)."""
    check_usage(usage)
    if book is not None and (custom := book.find(provider, model)) is not None:
        return Priced(custom.cost_micros(usage), f"custom:{book.version}", "custom")
    total = _genai_total(provider, model, usage, at)
    if total is not None:
        return Priced(micros_half_up(total, field="price"), genai_prices_version(), "genai-prices")
    if book is not None and book.fallback is not None:
        return Priced(book.fallback.cost_micros(usage), f"fallback:{book.version}", "fallback")
    raise PricingUnavailable(
        f"No price is known for model {model!r}" + (f" from provider {provider!r}." if provider else "."),
        model=model,
        provider=provider,
    )


def make_pricer(
    book: PriceBook | None = None,
) -> Callable[[str | None, str, TokenUsage, datetime], tuple[int, str]]:
    """Adapt ``price_usage`` to the ledger Pricer: ``(provider, model, usage, at) -> (micros, version)``."""

    def pricer(provider: str | None, model: str, usage: TokenUsage, at: datetime) -> tuple[int, str]:
        result = price_usage(provider, model, usage, at=at, book=book)
        return result.amount_micros, result.price_version

    return pricer


def genai_prices_version() -> str:
    """Identify the price data: the package version, plus the fetch time if prices were auto-updated."""
    snapshot = data_snapshot.get_snapshot()
    label = f"genai-prices:{genai_prices.__version__}"
    if snapshot.from_auto_update:
        label += f"+update:{snapshot.timestamp.isoformat(timespec='seconds')}"
    return label


def _genai_total(provider: str | None, model: str, usage: TokenUsage, at: datetime | None) -> Decimal | None:
    """genai-prices' ``input_tokens`` includes cache reads and writes, exactly like ``TokenUsage``."""
    known = _known_provider(provider)
    counts = genai_prices.Usage(
        input_tokens=usage.input,
        output_tokens=usage.output,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
    )
    try:
        when = None if at is None else utc(at)
        calc = genai_prices.calc_price(counts, model, provider_id=known, genai_request_timestamp=when)
    except (LookupError, ValueError):  # unknown model, or price data that cannot take this usage
        return None
    total = calc.total_price
    assert isinstance(total, Decimal)
    return total


def _known_provider(provider: str | None) -> str | None:
    """A provider genai-prices does not know (a proxy, a gateway) is left out, so the model alone decides."""
    if provider is None:
        return None
    snapshot = data_snapshot.get_snapshot()
    return provider if data_snapshot.find_provider_by_id(snapshot.providers, provider) else None
