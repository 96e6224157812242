"""Token usage out of real LLM responses, normalised to OpenTelemetry semantics.

Providers disagree on what "input" means: OpenAI's ``prompt_tokens``/``input_tokens``
already contain cached tokens, Anthropic's ``input_tokens`` exclude cache reads and
writes. Everything here returns a ``TokenUsage`` whose ``input`` includes both, so one
pricing function serves every provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spendwarden.events import TokenUsage
from spendwarden.ingest.common import (
    InvalidField,
    UnknownField,
    as_mapping,
    check_int,
    check_str,
    invalid,
)

MAX_TOKENS = 10**12
USAGE_FIELDS = (
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


class InvalidUsage(InvalidField):
    code = "invalid_usage"


@dataclass(frozen=True)
class UsageReport:
    """What one LLM call consumed: who served it, which model, how many tokens."""

    provider: str | None
    model: str
    usage: TokenUsage
    kind: Literal["llm_call", "embedding"] = "llm_call"


def check_usage(usage: TokenUsage, *, field: str = "usage") -> TokenUsage:
    """Refuse counts no provider can produce: negatives, and cached tokens beyond the input."""
    for name in ("input", "output", "cache_read", "cache_write"):
        check_int(f"{field}.{name}", getattr(usage, name), maximum=MAX_TOKENS)
    if usage.cache_read + usage.cache_write > usage.input:
        raise InvalidUsage(
            f"{field}: cache read + cache write tokens cannot exceed input tokens (input includes them).",
            field=field,
            input=usage.input,
            cache_read=usage.cache_read,
            cache_write=usage.cache_write,
        )
    return usage


def usage_from_dict(data: object, *, model: str | None = None, field: str = "usage") -> UsageReport:
    """The API's own ``usage`` object: ``input_tokens`` already includes cache reads and writes."""
    raw = as_mapping(data, field)
    unknown = sorted(str(key) for key in raw if key not in USAGE_FIELDS)
    if unknown:
        raise UnknownField(
            f"{field} has unknown fields: {', '.join(unknown)}.", field=f"{field}.{unknown[0]}"
        )
    usage = TokenUsage(
        input=_count(raw, "input_tokens", field),
        output=_count(raw, "output_tokens", field),
        cache_read=_count(raw, "cache_read_tokens", field),
        cache_write=_count(raw, "cache_write_tokens", field),
    )
    return UsageReport(
        provider=_provider(raw.get("provider"), f"{field}.provider"),
        model=_model(raw.get("model"), model, field),
        usage=check_usage(usage, field=field),
    )


def usage_from_response(obj: object, *, provider: str | None = None) -> UsageReport:
    """An OpenAI Chat Completion, OpenAI Response, OpenAI embedding list or Anthropic Message.

    Takes the SDK object itself or its ``model_dump()``; the shape decides the provider
    unless ``provider`` is given (e.g. "azure" serving OpenAI's shape).
    """
    raw = as_mapping(obj, "response")
    usage = raw.get("usage")
    if usage is None:
        raise invalid("response.usage", "is missing; streamed responses need include_usage")
    fields = as_mapping(usage, "response.usage")
    model = _model(raw.get("model"), None, "response")
    if "prompt_tokens" in fields:
        return _openai_chat(raw, fields, model, provider)
    if raw.get("type") == "message" or "cache_creation_input_tokens" in fields:
        return UsageReport(_provider(provider or "anthropic", "provider"), model, _anthropic(fields))
    if "input_tokens" in fields:
        return UsageReport(_provider(provider or "openai", "provider"), model, _openai_responses(fields))
    raise invalid("response.usage", "has no token counts this mapper understands", keys=sorted(fields)[:20])


def _openai_chat(
    raw: Mapping[str, Any], fields: Mapping[str, Any], model: str, provider: str | None
) -> UsageReport:
    """Chat Completions (and embeddings, whose usage has no completion tokens)."""
    details = _details(fields, "prompt_tokens_details")
    usage = TokenUsage(
        input=_count(fields, "prompt_tokens", "response.usage"),
        output=_count(fields, "completion_tokens", "response.usage"),
        cache_read=_count(details, "cached_tokens", "response.usage.prompt_tokens_details"),
        cache_write=_count(details, "cache_write_tokens", "response.usage.prompt_tokens_details"),
    )
    kind: Literal["llm_call", "embedding"] = "embedding" if raw.get("object") == "list" else "llm_call"
    return UsageReport(_provider(provider or "openai", "provider"), model, check_usage(usage), kind)


def _openai_responses(fields: Mapping[str, Any]) -> TokenUsage:
    details = _details(fields, "input_tokens_details")
    usage = TokenUsage(
        input=_count(fields, "input_tokens", "response.usage"),
        output=_count(fields, "output_tokens", "response.usage"),
        cache_read=_count(details, "cached_tokens", "response.usage.input_tokens_details"),
        cache_write=_count(details, "cache_write_tokens", "response.usage.input_tokens_details"),
    )
    return check_usage(usage)


def _anthropic(fields: Mapping[str, Any]) -> TokenUsage:
    """Anthropic's ``input_tokens`` excludes the cache, so add reads and writes back in."""
    uncached = _count(fields, "input_tokens", "response.usage")
    cache_read = _count(fields, "cache_read_input_tokens", "response.usage")
    cache_write = _count(fields, "cache_creation_input_tokens", "response.usage")
    usage = TokenUsage(
        input=uncached + cache_read + cache_write,
        output=_count(fields, "output_tokens", "response.usage"),
        cache_read=cache_read,
        cache_write=cache_write,
    )
    return check_usage(usage)


def _details(fields: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = fields.get(name)
    return {} if value is None else as_mapping(value, f"response.usage.{name}")


def _count(fields: Mapping[str, Any], name: str, where: str) -> int:
    value = fields.get(name)
    return 0 if value is None else check_int(f"{where}.{name}", value, maximum=MAX_TOKENS)


def _model(value: object, default: str | None, field: str) -> str:
    if value is None:
        value = default
    if value is None:
        raise invalid(f"{field}.model", "is required to price token usage")
    return check_str(f"{field}.model", value, max_len=200)


def _provider(value: object, field: str) -> str | None:
    if value is None:
        return None
    return check_str(field, value, max_len=64).lower()
