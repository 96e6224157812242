"""``spendwarden.wrap(openai.OpenAI(...))`` with the real ``openai`` package against a local
fake of the API: every call authorized from an estimate, settled from the real usage,
and a stream that is cut short or a call that raises still settles — never a silent zero."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import openai
import pytest

from spendwarden.events import TokenUsage
from spendwarden.ingest.pricing import price_usage
from spendwarden.money import format_amount
from spendwarden.runtime import Runtime
from spendwarden.sdk import AsyncClient, CapExceeded, Client, create_embedded_agent, wrap
from tests.sdk.conftest import holds, transactions
from tests.sdk.fake_llm import FakeLLM

MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Summarize: " + "x" * 400},
]
CHAT_USAGE = TokenUsage(input=1200, output=80, cache_read=1024)


@pytest.fixture
def sdk_runtime(lite_runtime: Runtime) -> Runtime:
    return lite_runtime


def priced(usage: TokenUsage, model: str = MODEL) -> str:
    return format_amount(price_usage("openai", model, usage).amount_micros)


def llm_client(llm: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=llm.url + "/v1", max_retries=0)


def test_a_call_is_authorized_then_settled_from_its_usage(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw, tool="summarize", task_id="t-1")
    response = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=100)
    assert response.choices[0].message.content == "Hello there."
    (row,) = transactions(sdk_runtime, "bot")
    assert row["amount_usd"] == priced(CHAT_USAGE) and row["price_version"].startswith("genai-prices")
    assert row["usage"] == {
        "input_tokens": 1200,
        "output_tokens": 80,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
    }
    assert (row["vendor"], row["model"], row["tool"], row["task_id"], row["endpoint"]) == (
        "openai",
        MODEL,
        "summarize",
        "t-1",
        "chat.completions",
    )
    (hold,) = holds(sdk_runtime, "bot")
    assert hold["amount"] == price_usage("openai", MODEL, TokenUsage(input=108, output=100)).amount_micros


def test_per_call_attribution_overrides_the_defaults(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw, tool="summarize")
    client.responses.create(model=MODEL, input="hello", spendwarden_task_id="t-2", spendwarden_tool="search")
    (row,) = transactions(sdk_runtime, "bot")
    assert (row["task_id"], row["tool"], row["endpoint"]) == ("t-2", "search", "responses")
    assert row["usage"]["cache_read_tokens"] == 512
    assert "spendwarden_tool" not in llm.requests[-1]["body"]


def test_a_cap_stops_the_call_before_it_is_made(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(
        create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"per_transaction": "0.0001"})
    )
    before = len(llm.requests)
    with pytest.raises(CapExceeded):
        wrap(llm_client(llm), sw).chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=4000)
    assert len(llm.requests) == before


def test_a_full_stream_settles_its_final_usage(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("w0 w1")
    assert llm.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    responses = client.responses.create(model=MODEL, input="hi", stream=True)
    assert [e.type for e in responses][-1] == "response.completed"
    rows = transactions(sdk_runtime, "bot")
    assert rows[0]["amount_usd"] == priced(CHAT_USAGE)
    assert rows[1]["amount_usd"] == priced(TokenUsage(input=900, output=60, cache_read=512))


def test_a_stream_closed_early_settles_the_estimate(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, max_tokens=50) as stream:
        for _ in stream:
            break
    for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, max_tokens=50):
        break  # never closed: settled when the stream is garbage collected
    gc.collect()
    rows = transactions(sdk_runtime, "bot")
    estimate = format_amount(holds(sdk_runtime, "bot")[0]["amount"])
    assert [r["amount_usd"] for r in rows] == [estimate, estimate] and float(estimate) > 0
    assert [r["metadata"]["reason"] for r in rows] == ["stream_closed_early", "stream_abandoned"]
    assert all(r["metadata"]["settled_from"] == "estimate" for r in rows)


def test_a_dropped_connection_settles_the_estimate(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    stream = wrap(llm_client(llm), sw).chat.completions.create(
        model=MODEL + "-disconnect", messages=MESSAGES, stream=True, max_tokens=50
    )
    with pytest.raises(openai.APIConnectionError):
        list(stream)
    (row,) = transactions(sdk_runtime, "bot")
    assert row["metadata"] == {
        "settled_from": "estimate",
        "reason": "stream_error",
        "error": "APIConnectionError",
    }
    assert row["amount_usd"] == format_amount(holds(sdk_runtime, "bot")[0]["amount"])


def test_a_call_that_raises_still_settles(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL + "-reject", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL + "-overload", messages=MESSAGES, max_tokens=10)
    refused, overloaded = transactions(sdk_runtime, "bot")
    assert (refused["status"], refused["amount_usd"]) == ("failed", "0.000000")
    assert refused["metadata"] == {
        "settled_from": "provider_error",
        "status_code": 400,
        "error": "BadRequestError",
    }
    assert overloaded["status"] == "settled" and float(overloaded["amount_usd"]) > 0
    assert (
        overloaded["metadata"]["settled_from"] == "estimate"
        and overloaded["metadata"]["reason"] == "call_raised"
    )


async def test_async_openai(
    sdk_runtime: Runtime, make_async: Callable[[str], AsyncClient], llm: FakeLLM
) -> None:
    sw = make_async(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(
        openai.AsyncOpenAI(api_key="sk-test", base_url=llm.url + "/v1", max_retries=0), sw, tool="t"
    )
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert len([chunk async for chunk in stream]) == 42
    early = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with early:
        async for _ in early:
            break
    abandoned = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async for _ in abandoned:
        break
    del abandoned  # never closed: the finalizer schedules the settle on the running loop
    for _ in range(100):
        if len(transactions(sdk_runtime, "bot")) == 4:
            break
        await asyncio.sleep(0.02)
    rows = transactions(sdk_runtime, "bot")
    assert [r["amount_usd"] for r in rows[:2]] == [priced(CHAT_USAGE)] * 2
    assert rows[2]["metadata"]["reason"] == "stream_closed_early" and rows[2]["tool"] == "t"
    assert rows[3]["metadata"]["settled_from"] == "estimate"
    await sw.aclose()
