"""``ledger.on_loop``: authorizations awaited on an event loop, in process, answer as
``Ledger.authorize`` does, share batches (PostgreSQL: one call and one commit; SQLite: one
transaction per loop iteration) and never overspend, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spendwarden.db.pg_batch import LOOP_IN_FLIGHT
from spendwarden.errors import AgentHalted, CapExceeded, PolicyDenied, SpendwardenError
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.on_loop import LoopAuthorizer
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.factories import make_agent


def _shares_batches(runtime: Runtime, authorizer: LoopAuthorizer) -> int:
    """How many calls were decided together with others, on this backend's batches."""
    if runtime.store.is_postgres:
        connections = authorizer._connections
        assert connections is not None and connections.batcher is not None
        return connections.batcher.batched
    loop_writes = runtime.store.loop_writes
    assert loop_writes is not None
    return loop_writes.units - loop_writes.commits  # items beyond the first of each commit


def test_racing_tasks_share_batches_and_never_overspend(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "racer", daily="2.50")  # 250 holds of one cent fit
    authorizer = LoopAuthorizer(ledger)

    async def race() -> list[bool]:
        async def attempt(i: int) -> bool:
            try:
                await authorizer.authorize("racer", AuthorizeRequest(amount=usd("0.01"), task_id=f"t{i % 7}"))
                return True
            except CapExceeded:
                return False

        try:
            return await asyncio.gather(*(attempt(i) for i in range(1000)))
        finally:
            assert _shares_batches(runtime, authorizer) > 100
            await authorizer.aclose()

    assert sum(asyncio.run(race())) == 250
    view = ledger.view("racer")
    assert view["held"] == "2.500000"
    assert view["headroom"]["daily"] == "0.000000"


UNALIKE = ("id", "agent_id", "created_at", "expires_at")  # what differs between twin agents


def _answered(answer: dict[str, Any]) -> tuple[str, Any]:
    return "ok", {k: v for k, v in answer.items() if k not in UNALIKE}


def _refused(exc: SpendwardenError) -> tuple[str, Any]:
    return exc.code, {k: v for k, v in exc.details.items() if k not in UNALIKE}


def _outcome(call: Any) -> tuple[str, Any]:
    """What a call answered, comparable across twin agents: the answer without its ids
    and times, or the error's code and details."""
    try:
        return _answered(call())
    except SpendwardenError as exc:
        return _refused(exc)


def test_answers_as_the_ledger_does(runtime: Runtime) -> None:
    """Twin agents: one asked through the loop, the other through ``Ledger.authorize``,
    the same requests: approvals, a cap denial, a policy refusal, an idempotent replay, a
    halt. The answers and what is held agree."""
    ledger = runtime.ledger
    for twin in ("loop", "locked"):
        ledger.create_agent(
            AgentSpec(
                id=twin,
                tier="custom",
                caps={"daily": usd("1.00"), "per_task": usd("0.50")},
                policy={"blocked_vendors": ["shady"]},
            ),
            "test",
        )
    plan: list[tuple[AuthorizeRequest, str | None]] = [
        (AuthorizeRequest(amount=usd("0.30"), vendor="openai", task_id="t1"), None),
        (AuthorizeRequest(amount=usd("0.30"), vendor="openai", task_id="t1"), None),  # per_task
        (AuthorizeRequest(amount=usd("0.10"), vendor="shady"), None),  # policy
        (AuthorizeRequest(amount=usd("0.20"), vendor="openai"), "idem-1"),
        (AuthorizeRequest(amount=usd("0.20"), vendor="openai"), "idem-1"),  # replay
        (AuthorizeRequest(amount=usd("0.60"), vendor="openai"), None),  # daily
        (AuthorizeRequest(amount=usd("0.10"), vendor="anthropic"), None),
    ]
    authorizer = LoopAuthorizer(ledger)

    async def through_the_loop(req: AuthorizeRequest, key: str | None) -> tuple[str, Any]:
        try:
            return _answered(await authorizer.authorize("loop", req, key))
        except SpendwardenError as exc:
            return _refused(exc)

    async def run() -> list[tuple[str, Any]]:
        try:
            answers = [await through_the_loop(req, key) for req, key in plan]
            ledger.halt("loop", "test", "drill")
            answers.append(await through_the_loop(AuthorizeRequest(amount=usd("0.01")), None))
            return answers
        finally:
            await authorizer.aclose()

    via_loop = asyncio.run(run())
    locked = [_outcome(lambda req=req, key=key: ledger.authorize("locked", req, key)) for req, key in plan]
    ledger.halt("locked", "test", "drill")
    locked.append(_outcome(lambda: ledger.authorize("locked", AuthorizeRequest(amount=usd("0.01")))))
    assert via_loop == locked
    assert [code for code, _ in via_loop] == [
        "ok", CapExceeded.code, PolicyDenied.code, "ok", "ok", CapExceeded.code, "ok", AgentHalted.code
    ]  # fmt: skip
    assert ledger.view("loop")["held"] == ledger.view("locked")["held"] == "0.600000"


def test_a_second_loop_takes_the_locked_path(runtime: Runtime) -> None:
    """The authorizer belongs to the first loop that used it; another loop's calls are
    still answered (in a thread), and open nothing on that loop."""
    ledger = runtime.ledger
    make_agent(ledger, "bot", daily="1.00")
    authorizer = LoopAuthorizer(ledger)
    req = AuthorizeRequest(amount=usd("0.10"))

    async def first() -> None:
        await authorizer.authorize("bot", req)

    async def second() -> dict[str, Any]:
        assert not authorizer.on_its_loop()
        return await authorizer.authorize("bot", req)

    asyncio.run(first())
    opened = authorizer._connections
    assert asyncio.run(second())["status"] == "approved"
    assert authorizer._connections is opened
    assert (opened is not None) == runtime.store.is_postgres
    assert ledger.view("bot")["held"] == "0.200000"
    asyncio.run(authorizer.aclose())  # its loop has ended: let go, nothing awaited elsewhere
    assert authorizer._connections is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_aclose_closes_the_connections(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot", daily="1.00")
    authorizer = LoopAuthorizer(runtime.ledger)

    async def run() -> Any:
        await authorizer.authorize("bot", AuthorizeRequest(amount=usd("0.10")))
        connections = authorizer._connections
        assert connections is not None and connections._connections is not None
        await authorizer.aclose()
        return connections

    connections = asyncio.run(run())
    assert connections._connections is None and authorizer._connections is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_authorizers_of_one_loop_share_its_connections(runtime: Runtime) -> None:
    """Twenty clients in one asyncio program (one per agent, say) share one set of
    connections and its batches; the last to close closes it. Each used to open its own:
    up to ``db_pool_size`` connections per client against PostgreSQL's ``max_connections``."""
    ledger = runtime.ledger
    for i in range(20):
        make_agent(ledger, f"a{i}", daily="1.00")
    authorizers = [LoopAuthorizer(ledger) for _ in range(20)]

    def backends() -> int:
        with runtime.store.read() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            return int(conn.exec_driver_sql(query).scalar_one())

    async def run() -> tuple[int, int, Any]:
        before = backends()
        req = AuthorizeRequest(amount=usd("0.01"))
        calls = [a.authorize(f"a{i}", req) for _ in range(5) for i, a in enumerate(authorizers)]
        await asyncio.gather(*calls)
        shared = {id(a._connections) for a in authorizers}
        assert len(shared) == 1
        connections = authorizers[0]._connections
        assert connections is not None and connections.batcher is not None
        opened = backends() - before
        for a in authorizers[1:]:
            await a.aclose()
        assert connections._connections is not None  # one user left: still open
        await authorizers[0].authorize("a0", req)
        await authorizers[0].aclose()
        return opened, connections.batcher.batched, connections

    opened, batched, connections = asyncio.run(run())
    assert opened <= LOOP_IN_FLIGHT + 1  # the batches in flight, and a lone call: not 20 sets
    assert batched > 20  # the clients' calls went in shared batches
    assert connections._connections is None  # the last one out closed them
    assert ledger.view("a0")["held"] == "0.060000"
