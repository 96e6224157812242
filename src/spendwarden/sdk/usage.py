"""Whatever the caller has in hand about an LLM call's tokens, as the API's ``usage`` object.

Accepts a real OpenAI or Anthropic response (or stream chunk/event carrying usage), a
bare ``response.usage`` object, the API's own dict shape, a provider's raw usage dict,
a ``TokenUsage`` or an ingest ``UsageReport``. The provider semantics (Anthropic's
``input_tokens`` exclude the cache, OpenAI's include it) are the ingest part's
``llm_usage`` extraction, used as is, so the SDK and the ingest rails count alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spendwarden.events import TokenUsage
from spendwarden.ingest.common import as_mapping
from spendwarden.ingest.llm_usage import USAGE_FIELDS, UsageReport, usage_from_dict, usage_from_response

# Placeholder when only the hold knows the model: the server fills it from the authorization.
# It never leaves this process; a control character keeps it from being any model's name
# (not NUL, which the ingest validators refuse: ``text.py``).
_NO_MODEL = "\x01unknown"


def usage_payload(obj: object, *, model: str | None = None, provider: str | None = None) -> dict[str, Any]:
    """The ``usage`` body for settle/record; ``model`` and ``provider`` fill what ``obj`` lacks."""
    return _payload(usage_report(obj, model=model, provider=provider))


def usage_report(obj: object, *, model: str | None = None, provider: str | None = None) -> UsageReport:
    if isinstance(obj, UsageReport):
        return obj
    if isinstance(obj, TokenUsage):
        return UsageReport(provider=provider, model=model or _NO_MODEL, usage=obj)
    data = as_mapping(obj, "usage")
    if "usage" in data and data.get("usage") is not None:
        with_model = data if data.get("model") else {**data, "model": model or _NO_MODEL}
        return usage_from_response(with_model, provider=provider)
    if data and set(data) <= set(USAGE_FIELDS):
        merged = {"provider": provider, **{k: v for k, v in data.items() if v is not None}}
        return usage_from_dict(_no_none(merged), model=model or _NO_MODEL)
    return usage_from_response(_bare(data, model), provider=provider)


def _bare(usage: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    """A provider's usage object without its response: give it the response around it."""
    wrapper: dict[str, Any] = {"model": model or _NO_MODEL, "usage": usage}
    if "cache_creation_input_tokens" in usage or "cache_read_input_tokens" in usage:
        wrapper["type"] = "message"
    return wrapper


def _no_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _payload(report: UsageReport) -> dict[str, Any]:
    usage = report.usage
    body: dict[str, Any] = {
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_read_tokens": usage.cache_read,
        "cache_write_tokens": usage.cache_write,
    }
    if report.model and report.model != _NO_MODEL:
        body["model"] = report.model
    if report.provider:
        body["provider"] = report.provider
    return body
