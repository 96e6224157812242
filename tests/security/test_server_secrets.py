"""Against a real server process: secrets never reach its logs (even at debug level), and
ledger rows edited, inserted or deleted behind a RUNNING server's back are named by id by
``GET /v1/ledger/verify`` and by ``spendwarden verify`` (exit code 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.tables.core import transactions
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer
from tests.reliability.proc import Server

ADMIN = bearer(ADMIN_TOKEN)


@pytest.mark.slow
def test_secrets_never_appear_in_the_server_output(database_url: str, tmp_path: Path) -> None:
    secrets = [ADMIN_TOKEN]
    with Server(database_url, tmp_path / "server.log", log_level="debug") as server:
        base = server.url
        created = httpx.post(f"{base}/v1/agents", json={"id": "bot", "tier": "custom"}, headers=ADMIN).json()
        key = created["api_key"]
        second = httpx.post(f"{base}/v1/agents/bot/keys", json={}, headers=ADMIN).json()["api_key"]
        secrets += [key, second]
        hold = httpx.post(f"{base}/v1/authorize", json={"amount_usd": "0.5"}, headers=bearer(key)).json()
        httpx.post(
            f"{base}/v1/authorizations/{hold['id']}/settle", json={"amount_usd": "0.4"}, headers=bearer(key)
        )
        hook_secret = "whsec_fuzz_0123456789abcdefSECRET"
        secrets.append(hook_secret)
        for path in ("/v1/webhooks", "/v1/channels"):
            httpx.post(
                f"{base}{path}",
                json={"url": "http://127.0.0.1:9/x", "secret": hook_secret, "kind": "webhook", "name": "n"},
                headers=ADMIN,
            )
        httpx.get(f"{base}/v1/me", headers=bearer(key + "x"))  # a failed login must not echo the key
        httpx.post(f"{base}/v1/agents/bot/revoke", json={"reason": "drill"}, headers=ADMIN)
        assert httpx.get(f"{base}/v1/me", headers=bearer(key)).status_code == 401
    output = server.output()
    assert output.strip(), "expected some server output at debug level"
    for secret in secrets:
        assert secret not in output
        assert secret[-16:] not in output


@pytest.mark.slow
def test_tampering_behind_a_running_servers_back_is_named_by_id(database_url: str, tmp_path: Path) -> None:
    with Server(database_url, tmp_path / "server.log") as server:
        base = server.url
        key = httpx.post(f"{base}/v1/agents", json={"id": "bot", "tier": "custom"}, headers=ADMIN).json()[
            "api_key"
        ]
        ids = [
            httpx.post(f"{base}/v1/transactions", json={"amount_usd": f"0.0{i}"}, headers=bearer(key)).json()[
                "transaction"
            ]["id"]
            for i in range(1, 6)
        ]
        assert httpx.get(f"{base}/v1/ledger/verify", headers=ADMIN).json()["ok"] is True
        engine = make_null_pool_engine(database_url)
        with engine.begin() as conn:
            conn.execute(update(transactions).where(transactions.c.id == ids[1]).values(amount=1))
            conn.execute(delete(transactions).where(transactions.c.id == ids[3]))
            forged = dict(
                conn.execute(select(transactions).where(transactions.c.id == ids[4])).mappings().one()
            )
            forged.update(id="txn_FORGED0000000000000000000", seq=99, amount=123)
            conn.execute(insert(transactions).values(**forged))
        engine.dispose()
        report = httpx.get(f"{base}/v1/ledger/verify", headers=ADMIN).json()
    assert report["ok"] is False
    named = {str(f["id"]) for f in report["findings"]}
    for tampered in (ids[1], ids[3], "txn_FORGED0000000000000000000"):
        assert tampered in named, (tampered, report["findings"])
    cli = subprocess.run(
        [sys.executable, "-m", "spendwarden.cli", "verify", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    for tampered in (ids[1], ids[3], "txn_FORGED0000000000000000000"):
        assert tampered in cli.stdout, (tampered, cli.stdout)
