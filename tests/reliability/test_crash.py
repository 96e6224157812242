"""Crash safety: a real ``spendwarden serve`` is SIGKILLed at random moments while client
threads authorize, settle, void, record and bulk-ingest; it is restarted and killed again,
many times. Afterwards every acknowledged request is in the ledger exactly once, held
money equals the open holds (and all of them expire), every counter equals its ledger
rows, no cap was overrun, and ``verify`` passes — on SQLite and on PostgreSQL.

Clients retry a request that died with the connection, with the same idempotency key or
external id, the way a careful SDK does; so the test also proves retries never count twice.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from spendwarden.config import Settings
from spendwarden.db.tables.core import holds, spend_counters
from spendwarden.ledger.agents import AgentSpec
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.reliability.invariants import Acks, check_all, held_matches_open_holds
from tests.reliability.proc import Server

KILLS = int(os.environ.get("SPENDWARDEN_CRASH_KILLS", "50"))  # per backend
BUDGET_SECONDS = float(os.environ.get("SPENDWARDEN_CRASH_SECONDS", "90"))  # per backend, bounds CI time
HOLD_TTL = 3
CAPPED = {"capped": usd("3.00")}  # a total cap the load runs into
AGENTS = ["a0", "a1", "a2", "capped"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FIGURES = Path(os.environ.get("SPENDWARDEN_FIGURES_DIR", "/tmp")) / "spendwarden-crash-figures.json"


class Load:
    """Client threads hammering one server URL, remembering every acknowledgement."""

    def __init__(self, url: str, keys: dict[str, str], acks: Acks) -> None:
        self.url, self.keys, self.acks = url, keys, acks
        self.stop = threading.Event()
        self.seq = itertools.count()

    def send(self, client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """Retry through crashes (same body, same idempotency key) until an answer or stop."""
        while not self.stop.is_set():
            try:
                return client.request(method, path, **kw)
            except httpx.TransportError:
                with self.acks.lock:
                    self.acks.transport_errors += 1
                time.sleep(0.05)
        return None

    def spend_cycle(self, client: httpx.Client, rng: random.Random, agent: str) -> None:
        n = next(self.seq)
        auth = {"Authorization": f"Bearer {self.keys[agent]}"}
        body = {"amount_usd": f"0.{rng.randrange(1, 30):02d}", "task_id": f"t{n % 5}", "vendor": "openai"}
        headers = {**auth, "Idempotency-Key": f"a{n}"}
        r = self.send(client, "POST", "/v1/authorize", json=body, headers=headers)
        if r is None or r.status_code != 200:
            self._refused(r)
            return
        hold = r.json()["id"]
        with self.acks.lock:
            self.acks.holds.add(hold)
        if rng.random() < 0.15:
            r = self.send(client, "POST", f"/v1/authorizations/{hold}/void", headers=auth)
            if r is not None and r.status_code == 200:
                with self.acks.lock:
                    self.acks.voids[hold] = r.json()["status"]
            return
        if rng.random() < 0.1:
            return  # abandoned: must expire
        amount = {"amount_usd": body["amount_usd"], "idempotency_key": f"s{n}"}
        r = self.send(client, "POST", f"/v1/authorizations/{hold}/settle", json=amount, headers=auth)
        if r is not None and r.status_code == 200:
            with self.acks.lock:
                self.acks.settles[hold] = r.json()["transaction"]["id"]
        else:
            self._refused(r)

    def record(self, client: httpx.Client, rng: random.Random, agent: str) -> None:
        ext = f"rec-{next(self.seq)}"
        body = {"amount_usd": "0.01", "external_id": ext, "vendor": "stripe", "rail": "stripe"}
        auth = {"Authorization": f"Bearer {self.keys[agent]}"}
        r = self.send(client, "POST", "/v1/transactions", json=body, headers=auth)
        if r is not None and r.status_code in (200, 201):
            with self.acks.lock:
                self.acks.external_ids.add((r.json()["transaction"]["source"], ext))
        else:
            self._refused(r)

    def ingest(self, client: httpx.Client, rng: random.Random) -> None:
        n = next(self.seq)
        events = [
            {"agent_id": rng.choice(AGENTS[:3]), "amount_usd": "0.002", "external_id": f"ing-{n}-{i}"}
            for i in range(rng.randrange(5, 40))
        ]
        r = self.send(client, "POST", "/v1/ingest/events", json=events, headers=ADMIN)
        if r is None or r.status_code != 200:
            self._refused(r)
            return
        with self.acks.lock:
            for res in r.json()["results"]:
                if res["status"] in ("accepted", "duplicate"):
                    self.acks.external_ids.add(("ingest", events[res["line"] - 1]["external_id"]))

    def _refused(self, r: httpx.Response | None) -> None:
        if r is not None:
            with self.acks.lock:
                self.acks.refusals[str(r.status_code)] += 1

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                roll = rng.random()
                if roll < 0.6:
                    self.spend_cycle(client, rng, rng.choice(AGENTS))
                elif roll < 0.85:
                    self.record(client, rng, rng.choice(AGENTS[:3]))
                else:
                    self.ingest(client, rng)


def create_agents(settings: Settings) -> dict[str, str]:
    rt = build_runtime(settings, migrate=False)
    try:
        keys = {}
        for agent in AGENTS:
            caps = {"total": CAPPED[agent]} if agent in CAPPED else {"daily": usd("1000")}
            _, keys[agent] = rt.ledger.create_agent(AgentSpec(id=agent, tier="custom", caps=caps), "test")
        return keys
    finally:
        rt.close()


def wait_until_no_open_holds(rt: Runtime, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.store.read() as conn:
            if not conn.execute(select(holds.c.id).where(holds.c.status == "open")).first():
                return
        time.sleep(0.25)
    pytest.fail("open holds did not expire")


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN)
    keys = create_agents(settings)
    acks = Acks()
    env = {"SPENDWARDEN_HOLD_TTL_SECONDS": str(HOLD_TTL), "SPENDWARDEN_SWEEP_INTERVAL_SECONDS": "0.5"}
    server = Server(database_url, tmp_path / "server.log", env=env, fork=True)  # warm restarts
    load = Load(server.url, keys, acks)
    rng = random.Random(int(os.environ.get("SPENDWARDEN_CRASH_SEED", "8")))
    threads = [threading.Thread(target=load.worker, args=(i,), daemon=True) for i in range(4)]
    started = time.monotonic()
    server.start()
    for t in threads:
        t.start()
    restarts: list[float] = []  # seconds from exec to answering /healthz, per restart
    try:
        for _ in range(KILLS):
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            time.sleep(rng.uniform(0.1, 1.0))
            server.kill()
            time.sleep(rng.uniform(0, 0.2))
            restart = time.monotonic()
            server.start()
            restarts.append(time.monotonic() - restart)
        time.sleep(0.5)
    finally:
        load.stop.set()
        for t in threads:
            t.join(15)
        server.kill()
    elapsed = time.monotonic() - started

    rt = build_runtime(settings, migrate=False)
    try:
        with rt.store.read() as conn:  # right after the last crash, before any expiry
            mismatched = {a: v for a, v in held_matches_open_holds(conn).items() if v[0] != v[1]}
        assert not mismatched, f"held differs from the open holds: {mismatched}"
        with Server(database_url, tmp_path / "final.log", env=env):
            wait_until_no_open_holds(rt)  # the sweeper expires every abandoned hold
        with rt.store.read() as conn:
            assert all(v == (0, 0) for v in held_matches_open_holds(conn).values())
            task_held = conn.execute(select(spend_counters.c.held).where(spend_counters.c.held != 0)).all()
            assert not task_held, "per-task holds leaked"
        figures = check_all(rt, acks, CAPPED)
    finally:
        rt.close()
    cli = subprocess.run(
        [sys.executable, "-m", "spendwarden.cli", "verify", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert server.starts > 5, "too few crashes to prove anything"
    assert acks.total() > 100, "the load was too thin to prove anything"
    _record_figures(database_url, server.starts, elapsed, restarts, acks, figures)


def _record_figures(
    url: str, starts: int, elapsed: float, restarts: list[float], acks: Acks, figures: dict[str, int]
) -> None:
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    line = {
        "backend": backend,
        "kills": starts - 1,
        "seconds": round(elapsed, 1),
        "restart_seconds_mean": round(sum(restarts) / max(1, len(restarts)), 2),
        "restart_seconds_max": round(max(restarts, default=0), 2),
        "acknowledged": {
            "authorizations": len(acks.holds),
            "settlements": len(acks.settles),
            "voids": len(acks.voids),
            "recorded_and_ingested": len(acks.external_ids),
        },
        "transport_errors_retried": acks.transport_errors,
        "refusals": dict(acks.refusals),
        **figures,
    }
    print(json.dumps(line))
    with FIGURES.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
