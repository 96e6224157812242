"""The client side of the crash and replica-kill tests: agents, a steady mixed load over one
or more server URLs that remembers every acknowledgement, and the final ``verify`` run.

Each request goes to the next URL in turn (a round-robin balancer); a request that dies with
its connection is retried — same body, same idempotency key or external id, the way a careful
SDK does — on the next URL, so with several replicas a client fails over to a survivor.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from spendwarden.config import Settings
from spendwarden.db.tables.core import holds
from spendwarden.ledger.agents import AgentSpec
from spendwarden.money import usd
from spendwarden.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.reliability.invariants import Acks

CAPPED = {"capped": usd("3.00")}  # a total cap the load runs into
AGENTS = ["a0", "a1", "a2", "capped"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Load:
    """Client threads hammering the server URLs, remembering every acknowledgement."""

    def __init__(self, urls: list[str], keys: dict[str, str], acks: Acks) -> None:
        self.urls, self.keys, self.acks = urls, keys, acks
        self.stop = threading.Event()
        self.seq = itertools.count()
        self.turn = itertools.count()

    def send(
        self, client: httpx.Client, kind: str, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        """Retry through crashes on the next URL (same body, same key) until an answer or stop."""
        first = at = next(self.turn) % len(self.urls)
        died_us = 0  # when this request first died with its connection
        while not self.stop.is_set():
            url = self.urls[at]
            try:
                r = client.request(method, url + path, **kw)
            except httpx.TransportError:
                died_us = died_us or time.time_ns() // 1000
                with self.acks.lock:
                    self.acks.transport_errors += 1
                at = (at + 1) % len(self.urls)
                time.sleep(0.05)
                continue
            with self.acks.lock:
                self.acks.codes[r.status_code] += 1
                if r.is_success:
                    self.acks.answered[url] += 1
                if at != first:
                    self.acks.failed_over[kind] += 1
                if died_us and kind == "authorize" and r.status_code == 200:
                    self.acks.retried_holds.append((r.json()["id"], died_us))
            return r
        return None

    def spend_cycle(self, client: httpx.Client, rng: random.Random, agent: str) -> None:
        n = next(self.seq)
        auth = {"Authorization": f"Bearer {self.keys[agent]}"}
        body = {
            "amount_usd": f"0.{rng.randrange(1, 30):02d}",
            "task_id": f"t{n % 5}",
            "vendor": "openai",
            "metadata": {"request": f"a{n}"},  # one hold per request: no double on a retry
        }
        headers = {**auth, "Idempotency-Key": f"a{n}"}
        r = self.send(client, "authorize", "POST", "/v1/authorize", json=body, headers=headers)
        if r is None or r.status_code != 200:
            self._refused(r)
            return
        hold = r.json()["id"]
        with self.acks.lock:
            self.acks.holds.add(hold)
        if rng.random() < 0.15:
            r = self.send(client, "void", "POST", f"/v1/authorizations/{hold}/void", headers=auth)
            if r is not None and r.status_code == 200:
                with self.acks.lock:
                    self.acks.voids[hold] = r.json()["status"]
            return
        if rng.random() < 0.1:
            return  # abandoned: must expire
        amount = {"amount_usd": body["amount_usd"], "idempotency_key": f"s{n}"}
        path = f"/v1/authorizations/{hold}/settle"
        r = self.send(client, "settle", "POST", path, json=amount, headers=auth)
        if r is not None and r.status_code == 200:
            with self.acks.lock:
                self.acks.settles[hold] = r.json()["transaction"]["id"]
        else:
            self._refused(r)

    def record(self, client: httpx.Client, rng: random.Random, agent: str) -> None:
        ext = f"rec-{next(self.seq)}"
        body = {"amount_usd": "0.01", "external_id": ext, "vendor": "stripe", "rail": "stripe"}
        auth = {"Authorization": f"Bearer {self.keys[agent]}"}
        r = self.send(client, "record", "POST", "/v1/transactions", json=body, headers=auth)
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
        r = self.send(client, "ingest", "POST", "/v1/ingest/events", json=events, headers=ADMIN)
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
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                roll = rng.random()
                if roll < 0.6:
                    self.spend_cycle(client, rng, rng.choice(AGENTS))
                elif roll < 0.85:
                    self.record(client, rng, rng.choice(AGENTS[:3]))
                else:
                    self.ingest(client, rng)

    def run(self, threads: int) -> list[threading.Thread]:
        started = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(threads)]
        for t in started:
            t.start()
        return started

    def finish(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        for t in threads:
            t.join(15)


def create_agents(settings: Settings, capped: dict[str, int] = CAPPED) -> dict[str, str]:
    """The load's agents and their keys: ``capped`` has a total cap, the others plenty."""
    rt = build_runtime(settings, migrate=False)
    try:
        keys = {}
        for agent in AGENTS:
            caps = {"total": capped[agent]} if agent in capped else {"daily": usd("1000")}
            spec = AgentSpec(id=agent, tier="custom", caps=caps)  # type: ignore[arg-type]
            _, keys[agent] = rt.ledger.create_agent(spec, "test")
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


def verify_cli(database_url: str) -> None:
    """``spendwarden verify`` in its own process exits 0."""
    cli = subprocess.run(
        [sys.executable, "-m", "spendwarden.cli", "verify", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
