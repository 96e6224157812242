from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import anthropic.types
import genai_prices
import openai.types
import openai.types.chat
import openai.types.responses
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import ValidationFailed
from spendwarden.events import TokenUsage
from spendwarden.ingest.llm_usage import UsageReport, usage_from_dict, usage_from_response
from spendwarden.ingest.pricing import price_usage


def chat_completion(
    prompt: int, completion: int, cached: int | None = None
) -> openai.types.chat.ChatCompletion:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return openai.types.chat.ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [],
            "usage": usage,
        }
    )


def anthropic_message(
    uncached: int, output: int, read: int | None, write: int | None
) -> anthropic.types.Message:
    return anthropic.types.Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": uncached,
                "output_tokens": output,
                "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write,
            },
        }
    )


def responses_response(inp: int, out: int, cached: int, written: int = 0) -> openai.types.responses.Response:
    return openai.types.responses.Response.model_validate(
        {
            "id": "resp_1",
            "object": "response",
            "created_at": 1,
            "model": "gpt-4o-mini",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": inp,
                "output_tokens": out,
                "total_tokens": inp + out,
                "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
    )


def test_openai_chat_completion_object() -> None:
    report = usage_from_response(chat_completion(1_000, 200, cached=600))
    assert report == UsageReport("openai", "gpt-4o", TokenUsage(input=1_000, output=200, cache_read=600))


def test_openai_chat_completion_dump_without_details() -> None:
    report = usage_from_response(chat_completion(50, 7).model_dump())
    assert report.usage == TokenUsage(input=50, output=7)


def test_openai_responses_api() -> None:
    report = usage_from_response(responses_response(900, 30, cached=400, written=100))
    assert report == UsageReport("openai", "gpt-4o-mini", TokenUsage(900, 30, 400, 100))


def test_anthropic_input_is_normalised_to_include_cache() -> None:
    report = usage_from_response(anthropic_message(10, 5, read=100, write=20))
    assert report == UsageReport("anthropic", "claude-sonnet-4-5", TokenUsage(130, 5, 100, 20))


def test_anthropic_without_cache_fields() -> None:
    report = usage_from_response(anthropic_message(10, 5, read=None, write=None))
    assert report.usage == TokenUsage(input=10, output=5)


def test_anthropic_normalisation_prices_like_genai_prices_own_extractor() -> None:
    message = anthropic_message(1_234, 567, read=8_000, write=2_000)
    extracted = genai_prices.extract_usage(message.model_dump(), provider_id="anthropic")
    expected = extracted.calc_price().total_price * 1_000_000
    report = usage_from_response(message)
    priced = price_usage(report.provider, report.model, report.usage)
    assert priced.amount_micros == int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_embeddings_are_marked_as_embeddings() -> None:
    response = openai.types.CreateEmbeddingResponse.model_validate(
        {
            "data": [],
            "model": "text-embedding-3-small",
            "object": "list",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        }
    )
    report = usage_from_response(response)
    assert report.kind == "embedding"
    assert report.usage == TokenUsage(input=8)


def test_provider_override_for_compatible_apis() -> None:
    assert usage_from_response(chat_completion(1, 1), provider="Azure").provider == "azure"


@pytest.mark.parametrize(
    "raw",
    [
        {"model": "gpt-4o"},
        {"model": "gpt-4o", "usage": {"total_tokens": 3}},
        {"usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"model": "gpt-4o", "usage": {"prompt_tokens": -1, "completion_tokens": 1}},
        {"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1.5}},
        {"model": "gpt-4o", "usage": {"prompt_tokens": 2, "prompt_tokens_details": {"cached_tokens": 3}}},
        {"model": "gpt-4o", "usage": "lots"},
        "not a response",
    ],
)
def test_bad_responses_are_refused(raw: object) -> None:
    with pytest.raises(ValidationFailed):
        usage_from_response(raw)


def test_usage_dict_of_the_api() -> None:
    report = usage_from_dict(
        {
            "provider": "OpenAI",
            "model": "gpt-4o",
            "input_tokens": 100,
            "output_tokens": 10,
            "cache_read_tokens": 40,
            "cache_write_tokens": 5,
        }
    )
    assert report == UsageReport("openai", "gpt-4o", TokenUsage(100, 10, 40, 5))


def test_usage_dict_takes_model_from_caller() -> None:
    assert usage_from_dict({"input_tokens": 1}, model="claude-3-haiku").model == "claude-3-haiku"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"model": "m", "input_tokens": 1, "tokens": 2}, "unknown_field"),
        ({"input_tokens": 1}, "invalid_field"),
        ({"model": "m", "input_tokens": -5}, "invalid_field"),
        ({"model": "m", "input_tokens": True}, "invalid_field"),
        ({"model": "m", "input_tokens": "5"}, "invalid_field"),
        ({"model": "m", "input_tokens": 10**13}, "invalid_field"),
        ({"model": "m", "input_tokens": 5, "cache_read_tokens": 6}, "invalid_usage"),
        ({"model": "", "input_tokens": 5}, "invalid_field"),
        ([1, 2], "invalid_field"),
    ],
)
def test_bad_usage_dicts(raw: object, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        usage_from_dict(raw)
    assert caught.value.code == code
    assert "field" in caught.value.details


counts = st.integers(0, 10**8)


@given(counts, counts, counts, counts)
def test_anthropic_shape_property(uncached: int, output: int, read: int, write: int) -> None:
    report = usage_from_response(anthropic_message(uncached, output, read, write).model_dump())
    assert report.usage == TokenUsage(uncached + read + write, output, read, write)


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.integers(), st.text(), st.floats())))
def test_garbage_usage_gives_validation_errors(raw: dict[str, object]) -> None:
    try:
        usage_from_dict(raw)
    except ValidationFailed:
        pass


@given(
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text()), lambda inner: st.dictionaries(st.text(), inner)
    )
)
def test_garbage_responses_give_validation_errors(raw: object) -> None:
    try:
        usage_from_response(raw)
    except ValidationFailed:
        pass
