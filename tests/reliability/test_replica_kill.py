"""A replica killed mid-load loses nothing acknowledged.

Two real ``spendwarden serve`` processes share one PostgreSQL. Four client threads split a
steady load over them request by request (a round-robin balancer): authorize → settle (often
on the other replica), authorize → void, abandoned authorizations, ``POST /v1/transactions``
and bulk ``POST /v1/ingest/events``. Replicas are SIGKILLed in turn, mid-load; a request that
dies with its replica is retried on the survivor with the same idempotency key / external id.
The last victim stays dead, with a few holds it granted and nobody settled.

Afterwards: every acknowledged request is in the ledger exactly once and none twice (no
retried authorize made a second hold), the survivor answered every request routed to it
after each kill, the dead replica's open holds were expired by the survivor's sweeper, held
money equals the open holds, counters equal their ledger rows, the cap held, ``verify`` passes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from spendwarden.config import Settings
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.tables.core import holds
from spendwarden.money import usd
from spendwarden.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.reliability.invariants import (
    Acks,
    assert_nothing_held,
    check_all,
    held_matches_open_holds,
    record_figures,
)
from tests.reliability.load import Load, create_agents, verify_cli, wait_until_no_open_holds
from tests.reliability.proc import Server

# Replicas share one PostgreSQL (SQLite has one writer per file: no replicas to kill).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

ROUNDS = 3  # kills: replica 0, 1, then 0 again (which stays dead)
HOLD_TTL = 2
ORPHANS = 3  # holds the last victim grants just before it dies; nobody settles them
CAPPED = {"capped": usd("1.00")}  # low enough that the split load runs into it
FIGURES = Path(os.environ.get("SPENDWARDEN_FIGURES_DIR", "/tmp")) / "spendwarden-replica-kill-figures.json"


def now_us() -> int:
    return time.time_ns() // 1000


def answered(acks: Acks, url: str) -> int:
    with acks.lock:
        return acks.answered[url]


def grant_orphans(url: str, key: str, acks: Acks) -> list[str]:
    """Authorize on ``url`` and walk away: these holds can only end by expiring."""
    ids = []
    with httpx.Client(timeout=10) as client:
        for i in range(ORPHANS):
            body = {"amount_usd": "0.05", "metadata": {"request": f"orphan-{i}"}}
            r = client.post(f"{url}/v1/authorize", json=body, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
    with acks.lock:
        acks.holds.update(ids)
    return ids


def lost_answers(url: str, key: str) -> list[tuple[str, str, dict[str, object], dict[str, str]]]:
    """Requests the victim commits and answers just before it dies, as if the answers were
    lost on the way (the window a SIGKILL rarely hits): (path, id answered, body, headers)."""
    auth = {"Authorization": f"Bearer {key}"}
    sent = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(ORPHANS):
            body: dict[str, object] = {"amount_usd": "0.02", "metadata": {"request": f"lost-{i}"}}
            headers = {**auth, "Idempotency-Key": f"lost-{i}"}
            r = client.post("/v1/authorize", json=body, headers=headers)
            assert r.status_code == 200, r.text
            sent.append(("/v1/authorize", r.json()["id"], body, headers))
            path = f"/v1/authorizations/{r.json()['id']}/settle"
            settle: dict[str, object] = {"amount_usd": "0.02", "idempotency_key": f"lost-s{i}"}
            r = client.post(path, json=settle, headers=auth)
            assert r.status_code == 200, r.text
            sent.append((path, r.json()["transaction"]["id"], settle, auth))
    return sent


def replay(url: str, sent: list[tuple[str, str, dict[str, object], dict[str, str]]], acks: Acks) -> None:
    """The client retries each lost request on the survivor: it gets the original answer."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for path, answered_id, body, headers in sent:
            r = client.post(path, json=body, headers=headers)
            assert r.status_code == 200, r.text
            got = r.json()["id"] if path == "/v1/authorize" else r.json()["transaction"]["id"]
            assert got == answered_id, f"{path}: the survivor answered {got}, the victim {answered_id}"
            with acks.lock:
                if path == "/v1/authorize":
                    acks.holds.add(got)
                else:
                    acks.settles[path.split("/")[3]] = got


def test_a_replica_killed_mid_load_loses_nothing_acknowledged(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN)
    keys = create_agents(settings, CAPPED)
    acks = Acks()
    env = {"SPENDWARDEN_HOLD_TTL_SECONDS": str(HOLD_TTL), "SPENDWARDEN_SWEEP_INTERVAL_SECONDS": "0.5"}
    replicas = [Server(database_url, tmp_path / f"replica{i}.log", env=env, fork=True) for i in range(2)]
    try:
        figures = run_and_check(database_url, settings, replicas, keys, acks)
    finally:
        for replica in replicas:
            replica.kill()
    assert all(acks.answered[r.url] > 0 for r in replicas), "the load was not split over both replicas"
    assert sum(acks.failed_over.values()) > 0, "no request failed over"
    assert acks.refusals["402"] > 0, "the load never reached the cap"
    assert acks.total() > 100, "the load was too thin to prove anything"
    line = {
        "replicas": len(replicas),
        "kills": ROUNDS,
        **acks.figures(),
        "answered_2xx_per_replica": [acks.answered[r.url] for r in replicas],
        "failed_over": dict(acks.failed_over),
        **figures,
    }
    record_figures(FIGURES, line)


def run_and_check(
    database_url: str, settings: Settings, replicas: list[Server], keys: dict[str, str], acks: Acks
) -> dict[str, object]:
    """Load both replicas, kill them in turn, then check everything; returns the figures."""
    for replica in replicas:
        replica.start()
    load = Load([r.url for r in replicas], keys, acks)
    threads = load.run(4)
    served_after_kill: list[int] = []  # per kill: 2xx the survivor answered while alone
    watch = make_null_pool_engine(database_url)
    try:
        for n in range(ROUNDS):
            victim, survivor = replicas[n % 2], replicas[(n + 1) % 2]
            time.sleep(1.5)  # both replicas under load
            last = n == ROUNDS - 1
            orphans = grant_orphans(victim.url, keys["a0"], acks) if last else []
            lost = lost_answers(victim.url, keys["a1"]) if last else []
            before = answered(acks, survivor.url)
            victim.kill()
            killed_at = now_us()
            with watch.connect() as conn:
                open_at_kill = len(conn.execute(select(holds.c.id).where(holds.c.status == "open")).all())
            replay(survivor.url, lost, acks)
            time.sleep(1.5)  # the survivor alone; clients fail over to it
            served_after_kill.append(answered(acks, survivor.url) - before)
            if not last:
                victim.start()
    finally:
        load.finish(threads)
    assert survivor.alive() and not victim.alive()

    with watch.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        # One snapshot while the survivor's sweeper runs: held money is the open holds.
        mismatched = {a: v for a, v in held_matches_open_holds(conn).items() if v[0] != v[1]}
    watch.dispose()
    assert not mismatched, f"held differs from the open holds: {mismatched}"
    rt = build_runtime(settings, migrate=False)
    try:
        wait_until_no_open_holds(rt)  # only the survivor is left to expire them
        with rt.store.read() as conn:
            rows = {r.id: r for r in conn.execute(select(holds).where(holds.c.id.in_(orphans)))}
            assert all(rows[h].status == "expired" for h in orphans), [rows[h].status for h in orphans]
            assert all(rows[h].closed_at > killed_at for h in orphans), "expired before its replica died"
            expired_by_survivor = len(
                conn.execute(
                    select(holds.c.id).where(holds.c.status == "expired", holds.c.closed_at > killed_at)
                ).all()
            )
            assert_nothing_held(conn)
        figures = check_all(rt, acks, CAPPED)
    finally:
        rt.close()
    verify_cli(database_url)
    assert all(n > 0 for n in served_after_kill), f"a survivor stopped serving: {served_after_kill}"
    return {
        "survivor_2xx_while_alone_per_kill": served_after_kill,
        "open_holds_at_last_kill": open_at_kill,
        "lost_answers_replayed_identically": len(lost),
        "expired_by_survivor_after_last_kill": expired_by_survivor,
        **figures,
    }
