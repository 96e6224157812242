"""``spendwarden.wrap(anthropic.Anthropic(...))`` with the real ``anthropic`` package: messages,
raw event streams and ``messages.stream``, with Anthropic's cache token accounting."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import pytest

from spendwarden.events import TokenUsage
from spendwarden.ingest.pricing import price_usage
from spendwarden.money import format_amount
from spendwarden.runtime import Runtime
from spendwarden.sdk import AsyncClient, Client, create_embedded_agent, wrap
from tests.sdk.conftest import holds, transactions
from tests.sdk.fake_llm import FakeLLM

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Summarize: " + "y" * 800}]
# input_tokens 25 uncached + 300 written to the cache + 2000 read from it; 90 out.
USAGE = TokenUsage(input=2325, output=90, cache_read=2000, cache_write=300)
USAGE_ROW = {"input_tokens": 2325, "output_tokens": 90, "cache_read_tokens": 2000, "cache_write_tokens": 300}


@pytest.fixture
def sdk_runtime(lite_runtime: Runtime) -> Runtime:
    return lite_runtime


def priced(usage: TokenUsage = USAGE) -> str:
    return format_amount(price_usage("anthropic", MODEL, usage).amount_micros)


def llm_client(llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=llm.url, max_retries=0)


def test_messages_create(sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw, tool="summarize", task_id="t-1")
    message = client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES, system="Be brief.")
    assert message.content[0].text == "Hello there."  # type: ignore[union-attr]
    (row,) = transactions(sdk_runtime, "bot")
    assert row["usage"] == USAGE_ROW and row["amount_usd"] == priced()
    assert (row["vendor"], row["tool"], row["task_id"], row["endpoint"]) == (
        "anthropic",
        "summarize",
        "t-1",
        "messages",
    )
    (hold,) = holds(sdk_runtime, "bot")
    estimate = TokenUsage(input=(4 + 811 + 9 + 3) // 4, output=300)
    assert hold["amount"] == price_usage("anthropic", MODEL, estimate).amount_micros


def test_event_streams(sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    events = list(client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES, stream=True))
    assert events[-1].type == "message_stop"
    early = client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES, stream=True)
    for event in early:
        if event.type == "content_block_delta":
            break
    early.close()
    full, cut = transactions(sdk_runtime, "bot")
    assert full["usage"] == USAGE_ROW and full["amount_usd"] == priced()
    assert cut["metadata"] == {"settled_from": "estimate", "reason": "stream_closed_early"}
    assert cut["amount_usd"] == format_amount(holds(sdk_runtime, "bot")[1]["amount"])


def test_messages_stream_helper(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    with client.messages.stream(
        model=MODEL, max_tokens=300, messages=MESSAGES, spendwarden_tool="chat"
    ) as stream:
        text = "".join(stream.text_stream)
    assert text.startswith("w0 w1")
    with client.messages.stream(model=MODEL, max_tokens=300, messages=MESSAGES) as stream:
        next(iter(stream.text_stream))
    with pytest.raises(RuntimeError), client.messages.stream(model=MODEL, max_tokens=300, messages=MESSAGES):
        raise RuntimeError("the agent crashed mid-stream")
    full, early, crashed = transactions(sdk_runtime, "bot")
    assert full["usage"] == USAGE_ROW and full["amount_usd"] == priced() and full["tool"] == "chat"
    assert early["metadata"]["reason"] == "stream_closed_early"
    assert crashed["metadata"]["reason"] == "stream_error" and float(crashed["amount_usd"]) > 0


def test_a_refused_call_is_a_failed_zero_and_a_drop_is_the_estimate(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    sw = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(llm_client(llm), sw)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL + "-reject", max_tokens=10, messages=MESSAGES)
    with pytest.raises(Exception, match="incomplete chunked read"):  # the transport's own error
        list(
            client.messages.create(model=MODEL + "-disconnect", max_tokens=10, messages=MESSAGES, stream=True)
        )
    refused, dropped = transactions(sdk_runtime, "bot")
    assert (refused["status"], refused["amount_usd"]) == ("failed", "0.000000")
    assert dropped["metadata"]["reason"] == "stream_error" and float(dropped["amount_usd"]) > 0


async def test_async_anthropic(
    sdk_runtime: Runtime, make_async: Callable[[str], AsyncClient], llm: FakeLLM
) -> None:
    sw = make_async(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    client = wrap(anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=llm.url, max_retries=0), sw)
    await client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES)
    stream = await client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES, stream=True)
    assert [e.type async for e in stream][-1] == "message_stop"
    async with client.messages.stream(model=MODEL, max_tokens=300, messages=MESSAGES) as helper:
        message = await helper.get_final_message()
    assert message.usage.cache_read_input_tokens == 2000
    early = await client.messages.create(model=MODEL, max_tokens=300, messages=MESSAGES, stream=True)
    async for _ in early:
        break
    await early.close()
    rows = transactions(sdk_runtime, "bot")
    assert [r["amount_usd"] for r in rows[:3]] == [priced()] * 3
    assert rows[3]["metadata"]["reason"] == "stream_closed_early"
    await sw.aclose()
