"""``client.task("name")``: task events around a unit of work, and spends inside it that
belong to it without passing ``task_id`` — sync and async, over HTTP and embedded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest

from spendwarden.db import queries_signals as qs
from spendwarden.runtime import Runtime
from spendwarden.sdk import AsyncClient, Client, create_embedded_agent, current_task_id, wrap
from spendwarden.tasks import task_public
from tests.sdk.conftest import transactions
from tests.sdk.fake_llm import FakeLLM


@pytest.fixture
def sdk_runtime(lite_runtime: Runtime) -> Runtime:
    return lite_runtime


def task(runtime: Runtime, task_id: str) -> dict[str, Any]:
    with runtime.store.read() as conn:
        row = qs.get_task_with_cost(conn, "bot", task_id)
    assert row is not None
    return task_public(row)


def test_decorated_work_reports_and_owns_its_spends(
    sdk_runtime: Runtime, make_client: Callable[[str], Client], llm: FakeLLM
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    llm_client = wrap(openai.OpenAI(api_key="k", base_url=llm.url + "/v1", max_retries=0), client)

    @client.task("summarize", scope={"max_tool_calls": 5})
    def summarize(text: str) -> str | None:
        with client.spend(estimate="0.010000", tool="fetch"):
            pass
        llm_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
        return current_task_id()

    first, second = summarize("a"), summarize("b")
    assert first and second and first != second and first.startswith("summarize-")
    assert current_task_id() is None
    rows = [r for r in transactions(sdk_runtime, "bot") if r["task_id"] == first]
    assert len(rows) == 2
    reported = task(sdk_runtime, first)
    assert reported["status"] == "completed" and reported["scope"] == {"max_tool_calls": 5}
    assert reported["cost_usd"] == f"{sum(float(r['amount_usd']) for r in rows):.6f}"


def test_a_failing_task_reports_the_exception_type(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    client = make_client(create_embedded_agent(sdk_runtime, "bot", tier="custom"))
    with pytest.raises(LookupError), client.task("lookup", task_id="lookup-1") as scope:
        assert current_task_id() == scope.task_id == "lookup-1"
        with client.task("inner") as inner:
            assert current_task_id() == inner.task_id
        assert current_task_id() == "lookup-1"
        raise LookupError("no such page")
    failed = task(sdk_runtime, "lookup-1")
    assert failed["status"] == "failed" and failed["note"] == "error: LookupError"
    assert task(sdk_runtime, str(inner.task_id))["status"] == "completed"


async def test_async_tasks_follow_the_work_into_child_tasks(
    sdk_runtime: Runtime, make_async: Callable[[str], AsyncClient]
) -> None:
    client = make_async(create_embedded_agent(sdk_runtime, "bot", tier="custom"))

    async def step(amount: str) -> None:
        async with client.spend(estimate=amount):
            await asyncio.sleep(0)

    @client.task("crawl")
    async def crawl() -> str | None:
        await asyncio.gather(step("0.01"), step("0.02"))
        return current_task_id()

    task_id = await crawl()
    assert task_id is not None
    assert sorted(r["amount_usd"] for r in transactions(sdk_runtime, "bot") if r["task_id"] == task_id) == [
        "0.010000",
        "0.020000",
    ]
    assert task(sdk_runtime, task_id)["status"] == "completed"
    with pytest.raises(ValueError):
        async with client.task("broken") as broken:
            raise ValueError("bad")
    assert task(sdk_runtime, str(broken.task_id))["note"] == "error: ValueError"
    await client.aclose()
