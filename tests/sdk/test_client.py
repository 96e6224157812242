"""``Client`` and ``AsyncClient`` against a real server on 127.0.0.1 and in embedded mode,
on SQLite and PostgreSQL: the same calls, the same answers, the same exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from spendwarden import errors as core
from spendwarden.db import queries as q
from spendwarden.runtime import Runtime
from spendwarden.sdk import (
    AgentHalted,
    AsyncClient,
    CapExceeded,
    Client,
    KeyRevoked,
    PolicyDenied,
    Unauthenticated,
    ValidationFailed,
    create_embedded_agent,
)
from spendwarden.sdk.server import LocalServer
from tests.sdk.conftest import transactions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_authorize_settle_void_record_me(sdk_runtime: Runtime, make_client: Callable[[str], Client]) -> None:
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "1.00"})
    with make_client(key) as client:
        auth = client.authorize(
            "0.010000", vendor="openai", model="gpt-4o-mini", tool="summarize", task_id="t1"
        )
        assert auth.status == "approved" and auth.amount == Decimal("0.01")
        assert auth.headroom == {"daily": Decimal("0.99")}
        usage = {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "prompt_tokens_details": {"cached_tokens": 500},
        }
        txn = client.settle(auth.id, usage=usage)
        assert txn.usage == {
            "input_tokens": 1000,
            "output_tokens": 200,
            "cache_read_tokens": 500,
            "cache_write_tokens": 0,
        }
        assert txn.amount > 0 and txn.price_version and txn.task_id == "t1"
        voided = client.void(client.authorize(Decimal("0.02")).id)
        assert voided["status"] == "voided"
        recorded = client.record(3, vendor="stripe", rail="stripe", kind="payment", external_id="ch_1")
        again = client.record("3.00", vendor="stripe", rail="stripe", kind="payment", external_id="ch_1")
        assert recorded.amount == Decimal("3") and not recorded.duplicate
        assert again.duplicate and again.id == recorded.id
        me = client.me()
    assert me["id"] == "bot" and Decimal(me["spend"]["daily"]) == txn.amount + 3
    assert [t["amount_usd"] for t in transactions(sdk_runtime, "bot")] == [f"{txn.amount:.6f}", "3.000000"]


def test_idempotent_authorize_returns_the_first_hold(
    sdk_runtime: Runtime, make_client: Callable[[str], Client]
) -> None:
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "1.00"})
    client = make_client(key)
    first = client.authorize("0.40", idempotency_key="call-1")
    second = client.authorize("0.40", idempotency_key="call-1")
    assert first.id == second.id
    assert client.authorize("0.10").headroom["daily"] == Decimal("0.50")


def test_amounts_are_exact(lite_runtime: Runtime) -> None:
    """Parsed on the client before any transport: str, Decimal, int, or a float with <= 6 decimals."""
    client = Client.embedded(
        runtime=lite_runtime, key=create_embedded_agent(lite_runtime, "bot", tier="custom")
    )
    assert client.authorize(0.1).amount == Decimal("0.1")
    assert client.authorize(Decimal("0.000001")).amount == Decimal("0.000001")
    with pytest.raises(core.InvalidAmount, match="more than 6 decimals"):
        client.authorize(0.1234567)
    with pytest.raises(core.InvalidAmount):
        client.authorize("-1")


def _failure(client: Client, call: Callable[[Client], object]) -> core.SpendwardenError:
    with pytest.raises(core.SpendwardenError) as info:
        call(client)
    return info.value


def test_errors_are_identical_over_http_and_embedded(sdk_runtime: Runtime) -> None:
    """The same refusal raises the same class with the same code, message and details."""
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "1.00"})
    sdk_runtime.ledger.update_agent("bot", {"policy": {"blocked_vendors": ["evil"]}}, "test")
    calls: list[Callable[[Client], object]] = [
        lambda c: c.authorize("2.00"),
        lambda c: c.authorize("0.01", vendor="evil"),
        lambda c: c.authorize("0.01", vendor="x" * 300),
        lambda c: c.settle("auth_nope", "0.01"),
        lambda c: c.authorize("0.01", vendor="open\x00ai"),  # no store can hold it (text.py)
        lambda c: c.settle(c.authorize("0.01").id),
    ]
    embedded = Client.embedded(runtime=sdk_runtime, key=key)
    with LocalServer(sdk_runtime) as srv, Client(key=key, url=srv.url, retries=0) as http:
        for call in calls:
            a, b = _failure(http, call), _failure(embedded, call)
            assert (type(a), a.code, a.message, a.details) == (type(b), b.code, b.message, b.details)
        cap = _failure(http, calls[0])
        assert isinstance(cap, CapExceeded) and isinstance(cap, core.CapExceeded)
        assert (cap.cap, cap.limit, cap.spent, cap.requested) == (
            "daily",
            Decimal(1),
            Decimal("0.02"),
            Decimal(2),
        )
        assert isinstance(_failure(http, calls[1]), PolicyDenied)
        assert isinstance(_failure(http, calls[2]), ValidationFailed)
        assert isinstance(_failure(embedded, calls[5]), ValidationFailed)

        sdk_runtime.ledger.halt("bot", "test", "drill")
        for client in (http, embedded):
            assert isinstance(_failure(client, lambda c: c.authorize("0.01")), AgentHalted)
        with sdk_runtime.store.read() as conn:
            key_row = q.list_keys(conn, "bot")[0]
        sdk_runtime.ledger.revoke_key("bot", key_row["id"], "test", "rotation")
        for client in (http, embedded):
            err = _failure(client, lambda c: c.me())
            assert isinstance(err, KeyRevoked) and isinstance(err, Unauthenticated)


async def test_async_client(sdk_runtime: Runtime, make_async: Callable[[str], AsyncClient]) -> None:
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "0.05"})
    async with make_async(key) as client:
        auth = await client.authorize("0.02", vendor="anthropic", model="claude-haiku-4-5")
        usage = {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 100}
        txn = await client.settle(auth.id, usage=usage)
        assert txn.usage is not None and txn.usage["input_tokens"] == 110
        with pytest.raises(CapExceeded) as info:
            await client.authorize("0.10")
        assert info.value.cap == "daily"
        await client.void((await client.authorize("0.01")).id)
        assert (await client.me())["held"] == "0.000000"


async def test_async_embedded_authorizes_on_the_callers_loop(sdk_runtime: Runtime) -> None:
    """Embedded ``AsyncClient``: authorizations are decided on the caller's loop, batched
    with the other tasks' (no thread each), never past a cap; the key is still checked on
    every call, so a revoked key is refused on the very next one."""
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "0.50"})
    async with AsyncClient.embedded(runtime=sdk_runtime, key=key) as client:
        results = await asyncio.gather(*(client.authorize("0.01") for _ in range(80)), return_exceptions=True)
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(results) - len(refused) == 50
        assert all(isinstance(r, CapExceeded) for r in refused)
        assert client._transport._authorizer.on_its_loop()
        if sdk_runtime.store.is_postgres:
            connections = client._transport._authorizer._connections
            assert connections is not None and connections.batcher is not None
            assert connections.batcher.batched > 0
        await client.void(next(r for r in results if not isinstance(r, BaseException)).id)
        assert (await client.authorize("0.01")).status == "approved"
        with sdk_runtime.store.read() as conn:
            key_row = q.list_keys(conn, "bot")[0]
        sdk_runtime.ledger.revoke_key("bot", key_row["id"], "test", "rotation")
        with pytest.raises(KeyRevoked):
            await client.authorize("0.01")
    assert sdk_runtime.ledger.view("bot")["held"] == "0.500000"


async def test_async_embedded_answers_off_the_loop_path_as_before(sdk_runtime: Runtime) -> None:
    """What the loop path does not decide is answered as before: a replayed idempotency key
    returns the first hold (one hold held), a malformed amount is the API's 422, a policy
    refusal its 403, and a halted agent its 423."""
    key = create_embedded_agent(sdk_runtime, "bot", tier="custom", caps={"daily": "1.00"})
    async with AsyncClient.embedded(runtime=sdk_runtime, key=key) as client:
        first = await client.authorize("0.10", idempotency_key="once")
        again = await client.authorize("0.10", idempotency_key="once")
        assert again.id == first.id
        assert sdk_runtime.ledger.view("bot")["held"] == "0.100000"
        with pytest.raises(ValidationFailed):
            await client.authorize("-1")
        with pytest.raises(ValidationFailed):
            await client.authorize("0.0000001")
        sdk_runtime.ledger.update_agent("bot", {"policy": {"blocked_vendors": ["shady"]}}, "test", "drill")
        with pytest.raises(PolicyDenied):
            await client.authorize("0.01", vendor="shady")
        sdk_runtime.ledger.halt("bot", "test", "drill")
        with pytest.raises(AgentHalted):
            await client.authorize("0.01")
    assert sdk_runtime.ledger.view("bot")["held"] == "0.100000"


def test_embedded_quickstart_on_a_file(tmp_path: Path) -> None:
    """The five-minute path: a SQLite file, no server, an agent created on first run."""
    path = str(tmp_path / "spendwarden.db")
    for _ in range(2):  # running the quickstart twice must not fail
        with Client.embedded(path, agent_id="my-agent", create={"caps": {"daily": "0.05"}}) as client:
            with client.spend(estimate="0.02", vendor="openai"):
                pass
    with Client.embedded(path, agent_id="my-agent") as client:
        assert client.me()["spend"]["daily"] == "0.040000"
        with pytest.raises(CapExceeded):
            client.authorize("0.02")
    key = create_embedded_agent(path, "other")
    with Client.embedded(path, key=key, agent_id="my-agent") as wrong:
        with pytest.raises(core.Forbidden):
            wrong.me()
