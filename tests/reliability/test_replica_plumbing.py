"""Several replicas on one PostgreSQL: periodic work has exactly one leader, live events
cross replicas (LISTEN/NOTIFY), and caps stay exact when two processes race for one cap."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from spendwarden import live
from spendwarden.config import Settings
from spendwarden.ledger.context import Emitted
from spendwarden.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.reliability.proc import two_servers

# Replicas share one PostgreSQL (SQLite has one writer per file: every process leads itself).
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


def _replicas(database_url: str, n: int = 2) -> list[object]:
    return [
        build_runtime(Settings(database_url=database_url, admin_token=ADMIN_TOKEN), migrate=False)
        for _ in range(n)
    ]


def test_periodic_work_has_exactly_one_leader(database_url: str) -> None:
    one, two = _replicas(database_url)
    try:
        with one.store.leader_lock("sweeper") as first:  # type: ignore[attr-defined]
            with two.store.leader_lock("sweeper") as second:  # type: ignore[attr-defined]
                assert (first, second) == (True, False)
                assert two.sweep() is False  # type: ignore[attr-defined]
        assert two.sweep() is True  # type: ignore[attr-defined]
    finally:
        one.close()  # type: ignore[attr-defined]
        two.close()  # type: ignore[attr-defined]


def test_each_periodic_job_has_its_own_leader(database_url: str) -> None:
    """The server runs each job on its own loop under its own lock: a replica busy folding
    does not stop another from ticking signals, and no job runs on two replicas at once."""
    one, two = _replicas(database_url)
    ran: list[str] = []
    try:
        assert {name for name, _job in two.periodic} >= {"analytics.fold", "signals.tick"}  # type: ignore[attr-defined]
        with one.store.leader_lock("analytics.fold") as held:  # type: ignore[attr-defined]
            assert held
            assert two.run_led("analytics.fold", lambda: ran.append("fold")) is False  # type: ignore[attr-defined]
            assert two.run_led("signals.tick", lambda: ran.append("tick")) is True  # type: ignore[attr-defined]
        assert two.run_led("analytics.fold", lambda: ran.append("fold")) is True  # type: ignore[attr-defined]
        assert ran == ["tick", "fold"]
    finally:
        one.close()  # type: ignore[attr-defined]
        two.close()  # type: ignore[attr-defined]


def test_live_events_cross_replicas(database_url: str) -> None:
    one, two = _replicas(database_url)

    async def scenario() -> list[str]:
        two.hub.bind(asyncio.get_running_loop())  # type: ignore[attr-defined]
        queue = two.hub.subscribe()  # type: ignore[attr-defined]
        two.start_live()  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)  # the listener is connected
        one.ledger.core.publish([Emitted("agent", "agent.halted", {"agent_id": "x", "status": "halted"})])  # type: ignore[attr-defined]
        event = await asyncio.wait_for(queue.get(), timeout=5)
        return [event.kind, event.name, event.payload["agent_id"]]

    try:
        assert asyncio.run(scenario()) == ["agent", "agent.halted", "x"]
    finally:
        one.close()  # type: ignore[attr-defined]
        two.close()  # type: ignore[attr-defined]


def test_a_batch_of_live_events_crosses_whole_and_in_order(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk batch NOTIFYs its events in a few statements; every one arrives, in order,
    identical ones included (PostgreSQL folds identical payloads in one transaction)."""
    monkeypatch.setattr(live, "NOTIFY_BATCH", 100)
    one, two = _replicas(database_url)
    events = [Emitted("transaction", "transaction.recorded", {"id": f"t{i}"}) for i in range(850)]
    events += [Emitted("agent", "agent.halted", {"agent_id": "same"})] * 2

    async def scenario() -> list[object]:
        two.hub.bind(asyncio.get_running_loop())  # type: ignore[attr-defined]
        queue = two.hub.subscribe()  # type: ignore[attr-defined]
        two.start_live()  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)
        one.ledger.core.publish(events)  # type: ignore[attr-defined]
        return [(await asyncio.wait_for(queue.get(), timeout=10)).payload for _ in events]

    try:
        assert asyncio.run(scenario()) == [e.payload for e in events]
    finally:
        one.close()  # type: ignore[attr-defined]
        two.close()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_racing_authorizations_over_two_server_processes_never_overspend(
    database_url: str, tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with two_servers(database_url, tmp_path) as (one, two):
        created = httpx.post(
            f"{one}/v1/agents",
            json={"id": "racer", "tier": "custom", "caps": {"daily": "1.00"}},
            headers=admin,
        ).json()
        agent = {"Authorization": f"Bearer {created['api_key']}"}

        # One client shared by the 16 racing threads (a client per request builds an SSL
        # context each time: most of this test's time on a loaded machine).
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        with httpx.Client(timeout=30, limits=limits) as client:

            def attempt(i: int) -> int:
                base = one if i % 2 else two
                r = client.post(f"{base}/v1/authorize", json={"amount_usd": "0.01"}, headers=agent)
                return r.status_code

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                codes = list(pool.map(attempt, range(1000)))
        assert codes.count(200) == 100, (codes.count(200), time.monotonic() - started)
        assert set(codes) == {200, 402}
        me = httpx.get(f"{one}/v1/me", headers=agent).json()
        assert me["held"] == "1.000000" and me["headroom"]["daily"] == "0.000000"
