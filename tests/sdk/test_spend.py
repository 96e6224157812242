"""``client.spend(...)``: settle with real usage, void on an exception, and a block left
without settling settles the estimate, marked as such — never a silent zero."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from anthropic.types import Message, Usage

from spendwarden.errors import InvalidState
from spendwarden.runtime import Runtime
from spendwarden.sdk import AsyncClient, Client, create_embedded_agent
from tests.sdk.conftest import holds, transactions


@pytest.fixture
def sdk_runtime(lite_runtime: Runtime) -> Runtime:
    return lite_runtime


def anthropic_response() -> Message:
    usage = Usage(
        input_tokens=25, output_tokens=90, cache_read_input_tokens=2000, cache_creation_input_tokens=300
    )
    return Message(
        id="msg_1",
        type="message",
        role="assistant",
        model="claude-haiku-4-5",
        content=[],
        stop_reason="end_turn",
        stop_sequence=None,
        usage=usage,
    )


def test_settle_with_a_real_usage_object(sdk_runtime: Runtime, make_client: Callable[[str], Client]) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    response = anthropic_response()
    with client.spend(
        estimate="0.02", vendor="anthropic", model="claude-haiku-4-5", tool="summarize", task_id="t-9"
    ) as hold:
        txn = hold.settle(usage=response.usage)
    with client.spend(estimate="0.02", vendor="anthropic", tool="summarize") as whole:
        whole.settle(usage=response)
    assert txn.usage == {
        "input_tokens": 2325,
        "output_tokens": 90,
        "cache_read_tokens": 2000,
        "cache_write_tokens": 300,
    }
    rows = transactions(sdk_runtime, "bot")
    assert [r["amount_usd"] for r in rows] == [f"{txn.amount:.6f}"] * 2
    assert rows[0]["tool"] == "summarize" and rows[0]["task_id"] == "t-9" and rows[0]["vendor"] == "anthropic"
    assert rows[1]["model"] == "claude-haiku-4-5" and "settled_from" not in rows[1]["metadata"]
    with pytest.raises(InvalidState):
        hold.settle("0.01")


def test_an_exception_inside_voids_and_propagates(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    with pytest.raises(ZeroDivisionError), client.spend(estimate="0.02", vendor="openai") as hold:
        raise ZeroDivisionError("the call failed")
    assert hold.voided and transactions(sdk_runtime, "bot") == []
    assert [h["status"] for h in holds(sdk_runtime, "bot")] == ["voided"]
    assert client.me()["held"] == "0.000000"


def test_leaving_without_settling_settles_the_estimate(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    with client.spend(estimate="0.020000", vendor="openai", tool="search"):
        pass
    (row,) = transactions(sdk_runtime, "bot")
    assert row["amount_usd"] == "0.020000" and row["tool"] == "search"
    assert row["metadata"] == {"settled_from": "estimate", "reason": "not_settled"}


def test_a_failed_settle_falls_back_to_the_estimate_not_a_void(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    with pytest.raises(Exception), client.spend(estimate="0.03") as hold:  # noqa: B017
        hold.settle(usage={"prompt_tokens": -5})
    (row,) = transactions(sdk_runtime, "bot")
    assert row["amount_usd"] == "0.030000" and row["metadata"]["reason"] == "settle_failed"


def test_an_unpriceable_model_settles_the_estimate_with_its_tokens(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    with client.spend(estimate="0.04", vendor="acme", model="acme-llm-9") as hold:
        txn = hold.settle(usage={"input_tokens": 100, "output_tokens": 10})
    assert txn.amount == Decimal("0.04")
    assert txn.metadata["reason"] == "price_unknown" and txn.metadata["usage"]["input_tokens"] == 100


async def test_async_spend(sdk_runtime: Runtime, make_async: Callable[[str], AsyncClient]) -> None:
    client = make_async(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    async with client.spend(estimate="0.02", vendor="anthropic", model="claude-haiku-4-5") as hold:
        txn = await hold.settle(usage=anthropic_response().usage)
    with pytest.raises(KeyError):
        async with client.spend(estimate="0.02") as failed:
            raise KeyError("boom")
    async with client.spend(estimate="0.05"):
        pass
    rows = transactions(sdk_runtime, "bot")
    assert [r["amount_usd"] for r in rows] == [f"{txn.amount:.6f}", "0.050000"]
    assert failed.voided and rows[1]["metadata"]["settled_from"] == "estimate"
    await client.aclose()
