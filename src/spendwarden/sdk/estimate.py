"""What an LLM call may cost before it is made: the amount the wrappers authorize.

Input tokens are guessed from the prompt text (characters / 4, images and files left
out); output tokens are the call's own bound (``max_tokens``, ``max_completion_tokens``,
``max_output_tokens``) or ``default_max_tokens``. Both are priced with genai-prices. A
model nobody can price authorizes ``default_estimate`` instead, so an unknown model is
still held against the caps rather than waved through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from spendwarden.errors import SpendwardenError
from spendwarden.events import TokenUsage
from spendwarden.money import format_amount, parse_amount

PROMPT_KEYS = ("messages", "input", "instructions", "system", "tools", "prompt")
OUTPUT_BOUNDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
# Binary payloads (base64 images, files) are not text tokens; counting them would inflate the guess.
BINARY_KEYS = frozenset({"data", "image_url", "file_data", "b64_json", "image", "audio", "input_audio"})


@dataclass(frozen=True)
class EstimatePolicy:
    """How the wrappers size the authorization when the call itself does not say."""

    default_estimate: str | Decimal = "0.05"
    default_max_tokens: int = 1024
    chars_per_token: int = 4

    def __post_init__(self) -> None:
        parse_amount(self.default_estimate, field="default_estimate")


@dataclass(frozen=True)
class Estimate:
    amount: str
    input_tokens: int
    output_tokens: int
    priced: bool

    def basis(self) -> dict[str, Any]:
        """Shown in the hold's metadata so a person can see what the authorization was based on."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "priced": self.priced}


def text_chars(value: object) -> int:
    """Characters of text in a prompt structure (dicts, lists, strings, pydantic models)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_chars(v) for k, v in value.items() if k not in BINARY_KEYS)
    if isinstance(value, (list, tuple)):
        return sum(text_chars(v) for v in value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return text_chars(dump())
    return 0


def estimate_call(
    provider: str, model: str | None, kwargs: Mapping[str, Any], policy: EstimatePolicy
) -> Estimate:
    chars = sum(text_chars(kwargs.get(key)) for key in PROMPT_KEYS)
    input_tokens = math.ceil(chars / policy.chars_per_token)
    bound = next((kwargs[k] for k in OUTPUT_BOUNDS if isinstance(kwargs.get(k), int)), None)
    output_tokens = bound if bound is not None else policy.default_max_tokens
    fallback = format_amount(parse_amount(policy.default_estimate))
    if not model:
        return Estimate(fallback, input_tokens, output_tokens, priced=False)
    try:
        from spendwarden.ingest.pricing import price_usage

        priced = price_usage(provider, model, TokenUsage(input=input_tokens, output=output_tokens))
    except (SpendwardenError, LookupError, ValueError):
        return Estimate(fallback, input_tokens, output_tokens, priced=False)
    return Estimate(format_amount(priced.amount_micros), input_tokens, output_tokens, priced=True)
