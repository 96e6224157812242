"""``spendwarden warm``: the tables every authorization reads, read through once, on both
backends (PostgreSQL with pg_prewarm and with plain scans); nothing in them changes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spendwarden.cli import app
from spendwarden.db.warm import HOT_TABLES, warm, warm_in_background
from spendwarden.runtime import Runtime
from tests.factories import make_agent, spend


def _fleet(runtime: Runtime) -> dict[str, object]:
    for i in range(20):
        make_agent(runtime.ledger, f"bot{i}", daily="5")
        runtime.ledger.record(spend(f"bot{i}", "1.25", task_id="t"))
    return {a["id"]: a for a in (runtime.ledger.view(f"bot{i}") for i in range(20))}


def test_warm_reads_every_hot_table_and_index_and_changes_nothing(runtime: Runtime) -> None:
    before = _fleet(runtime)
    done = warm(runtime.store)
    names = {w.relation for w in done}
    if runtime.store.is_postgres:
        assert set(HOT_TABLES) <= names
        assert {"pk_agents", "pk_agent_state", "pk_spend_counters", "uq_agent_keys_key_hash"} <= names
        scanned = warm(runtime.store, use_extension=False)  # where pg_prewarm cannot be had
        assert [(w.relation, w.pages) for w in scanned] == [(w.relation, w.pages) for w in done]
    else:
        [whole] = done
        path = Path(runtime.settings.database_url.removeprefix("sqlite:///"))
        assert whole.relation == path.name
        assert whole.pages * 8192 >= path.stat().st_size > 0
    assert all(w.pages > 0 for w in done if w.relation in HOT_TABLES or not runtime.store.is_postgres)
    assert {a["id"]: a for a in (runtime.ledger.view(f"bot{i}") for i in range(20))} == before


def test_the_warm_command_prints_what_it_read(runtime: Runtime) -> None:
    _fleet(runtime)
    out = CliRunner().invoke(app, ["warm", "-d", runtime.settings.database_url])
    assert out.exit_code == 0, out.output
    assert ("spend_counters" if runtime.store.is_postgres else ".db") in out.output
    assert " MB in " in out.output


def test_warm_names_a_missing_sqlite_file_instead_of_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    out = CliRunner().invoke(app, ["warm", "-d", str(missing)])
    assert out.exit_code == 2
    assert "not_found" in out.output and "nope.db" in out.output
    assert not missing.exists()


def test_warm_on_start_reads_in_the_background_and_says_so(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    before = _fleet(runtime)
    with caplog.at_level(logging.INFO, logger="spendwarden.db.warm"):
        thread = warm_in_background(runtime.store)
        thread.join(60)
    assert not thread.is_alive()
    assert "warm on start:" in caplog.text and " MB in " in caplog.text
    assert {a["id"]: a for a in (runtime.ledger.view(f"bot{i}") for i in range(20))} == before
