"""Two real server processes on one database: a revoke on one refuses the very next request
on the other (no caches of keys or status anywhere)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(database_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SPENDWARDEN_DATABASE_URL": database_url, "SPENDWARDEN_ADMIN_TOKEN": ADMIN_TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendwarden.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_revoke_on_one_process_refuses_the_next_request_on_the_other(database_url: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with server(database_url) as one, server(database_url) as two:
        created = httpx.post(
            f"{one}/v1/agents", json={"id": "shared", "tier": "custom"}, headers=admin
        ).json()
        agent = {"Authorization": f"Bearer {created['api_key']}"}
        assert (
            httpx.post(f"{two}/v1/authorize", json={"amount_usd": "0.01"}, headers=agent).status_code == 200
        )
        revoked = httpx.post(f"{one}/v1/agents/shared/revoke", json={"reason": "drill"}, headers=admin)
        assert revoked.status_code == 200
        r = httpx.post(f"{two}/v1/authorize", json={"amount_usd": "0.01"}, headers=agent)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "agent_revoked"
