"""Two real server processes on one database: a revoke on one refuses the very next request
on the other (no caches of keys or status anywhere)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.reliability.proc import two_servers


@pytest.mark.slow
def test_revoke_on_one_process_refuses_the_next_request_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with two_servers(database_url, tmp_path) as (one, two):
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
