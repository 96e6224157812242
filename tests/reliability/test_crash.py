"""Crash safety: a real ``spendwarden serve`` is SIGKILLed at random moments while client
threads authorize, settle, void, record and bulk-ingest; it is restarted and killed again,
many times. Afterwards every acknowledged request is in the ledger exactly once, held
money equals the open holds (and all of them expire), every counter equals its ledger
rows, no cap was overrun, and ``verify`` passes — on SQLite and on PostgreSQL.

Clients retry a request that died with the connection, with the same idempotency key or
external id, the way a careful SDK does; so the test also proves retries never count twice
(a retried authorize gets the original hold or a fresh one, never both).

Restarts fork a warm forkserver that runs the same ``spendwarden serve`` (``proc.py``), so
a kill cycle costs the server's own start-up (~1 s here) and the bounded test reaches its
50 kills per backend instead of ~7 with a fresh interpreter per restart.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from spendwarden.config import Settings
from spendwarden.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN, backend_name
from tests.reliability.invariants import (
    Acks,
    assert_nothing_held,
    check_all,
    held_matches_open_holds,
    record_figures,
)
from tests.reliability.load import CAPPED, Load, create_agents, verify_cli, wait_until_no_open_holds
from tests.reliability.proc import Server

KILLS = int(os.environ.get("SPENDWARDEN_CRASH_KILLS", "50"))  # per backend
BUDGET_SECONDS = float(os.environ.get("SPENDWARDEN_CRASH_SECONDS", "80"))  # per backend, bounds CI time
HOLD_TTL = 3
FIGURES = Path(os.environ.get("SPENDWARDEN_FIGURES_DIR", "/tmp")) / "spendwarden-crash-figures.json"


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN)
    keys = create_agents(settings)
    acks = Acks()
    env = {"SPENDWARDEN_HOLD_TTL_SECONDS": str(HOLD_TTL), "SPENDWARDEN_SWEEP_INTERVAL_SECONDS": "0.5"}
    server = Server(database_url, tmp_path / "server.log", env=env, fork=True)  # warm restarts
    load = Load([server.url], keys, acks)
    rng = random.Random(int(os.environ.get("SPENDWARDEN_CRASH_SEED", "8")))
    started = time.monotonic()
    server.start()
    threads = load.run(4)
    restarts: list[float] = []  # seconds from exec to answering /healthz, per restart
    try:
        for _ in range(KILLS):
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            time.sleep(rng.uniform(0.1, 0.8))
            server.kill()
            time.sleep(rng.uniform(0, 0.2))
            restart = time.monotonic()
            server.start()
            restarts.append(time.monotonic() - restart)
        time.sleep(0.5)
    finally:
        load.finish(threads)
        server.kill()
    elapsed = time.monotonic() - started

    rt = build_runtime(settings, migrate=False)
    try:
        with rt.store.read() as conn:  # right after the last crash, before any expiry
            mismatched = {a: v for a, v in held_matches_open_holds(conn).items() if v[0] != v[1]}
        assert not mismatched, f"held differs from the open holds: {mismatched}"
        with Server(database_url, tmp_path / "final.log", env=env, fork=True):
            wait_until_no_open_holds(rt)  # the sweeper expires every abandoned hold
        with rt.store.read() as conn:
            assert_nothing_held(conn)
        figures = check_all(rt, acks, CAPPED)
    finally:
        rt.close()
    verify_cli(database_url)
    assert server.starts > 5, "too few crashes to prove anything"
    assert acks.total() > 100, "the load was too thin to prove anything"
    _record_figures(database_url, server.starts, elapsed, restarts, acks, figures)


def _record_figures(
    url: str, starts: int, elapsed: float, restarts: list[float], acks: Acks, figures: dict[str, int]
) -> None:
    line = {
        "backend": backend_name(url),
        "kills": starts - 1,
        "seconds": round(elapsed, 1),
        "restart_seconds_mean": round(sum(restarts) / max(1, len(restarts)), 2),
        "restart_seconds_max": round(max(restarts, default=0), 2),
        **acks.figures(),
        **figures,
    }
    record_figures(FIGURES, line)
