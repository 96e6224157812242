"""The revocation drill against a real server (both backends) and through the CLI on a local
database: every step passes, each is timed, and the audit log holds each action."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spendwarden.cli import app
from spendwarden.runtime import Runtime
from spendwarden.sdk import Client, KeyRevoked, create_embedded_agent
from spendwarden.sdk.drill import run_drill
from spendwarden.sdk.server import LocalServer
from tests.conftest import ADMIN_TOKEN


def test_drill_revokes_every_key_and_hands_over_a_working_one(sdk_runtime: Runtime) -> None:
    old_key = create_embedded_agent(sdk_runtime, "ops-bot", tier="production")
    with LocalServer(sdk_runtime) as server:
        report = run_drill(server.url, ADMIN_TOKEN, "ops-bot")
        assert report.ok, report.error
        assert [s.name for s in report.steps] == [
            "agent exists and is not revoked",
            "old key works",
            "revoke keys",
            "old key refused",
            "issue fresh key",
            "fresh key works",
            "audit entries",
        ]
        assert len(report.revoked_key_ids) == 2  # the agent's own key and the drill's "before" key
        assert report.total_ms < 5_000  # the bar is 90 s; typically well under 1 s
        with pytest.raises(KeyRevoked), Client(key=old_key, url=server.url, retries=0) as old:
            old.me()
        assert report.new_key is not None
        with Client(key=report.new_key, url=server.url, retries=0) as new:
            assert new.me()["status"] == "active"
    newest_first = [a["action"] for a in _audit(sdk_runtime, "ops-bot")]
    assert newest_first[:4] == ["key.issued", "key.revoked", "key.revoked", "key.issued"]


def _audit(runtime: Runtime, agent_id: str) -> list[dict[str, object]]:
    from spendwarden.db import queries as q

    with runtime.store.read() as conn:
        return [dict(r) for r in q.list_audit(conn, target_id=agent_id, action=None, before=None, limit=100)]


def test_only_the_drill_key_and_a_revoked_agent(sdk_runtime: Runtime) -> None:
    kept = create_embedded_agent(sdk_runtime, "ops-bot", tier="production")
    create_embedded_agent(sdk_runtime, "gone", tier="production")
    sdk_runtime.ledger.revoke("gone", "test", "retired")
    with LocalServer(sdk_runtime) as server:
        report = run_drill(server.url, ADMIN_TOKEN, "ops-bot", only_drill_key=True)
        assert report.ok and len(report.revoked_key_ids) == 1
        with Client(key=kept, url=server.url, retries=0) as client:
            assert client.me()["id"] == "ops-bot"
        refused = run_drill(server.url, ADMIN_TOKEN, "gone")
        assert not refused.ok and refused.error and "revoked for good" in refused.error
        wrong_token = run_drill(server.url, "not-the-admin-token", "ops-bot")
        assert not wrong_token.ok and wrong_token.error and wrong_token.error.startswith("unauthenticated")


def test_cli_drill_on_a_local_database(tmp_path: Path, lite_runtime: Runtime) -> None:
    database = lite_runtime.settings.database_url.removeprefix("sqlite:///")
    key = create_embedded_agent(lite_runtime, "ops-bot", tier="experimental")
    result = CliRunner().invoke(app, ["drill", "ops-bot", "--database", database, "--key", key])
    assert result.exit_code == 0, result.output
    assert "passed in" in result.output and "revoke -> refused" in result.output
    assert "key_revoked" in result.output and "old key refused" in result.output
    missing = CliRunner().invoke(app, ["drill", "nobody", "--database", database])
    assert missing.exit_code == 1 and "agent_not_found" in missing.output
