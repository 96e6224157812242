"""spendwarden import / export: NDJSON and CSV, resumable, rejects reported, round trip exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spendwarden.cli import app
from spendwarden.config import Settings
from spendwarden.db import queries_ingest as qi
from spendwarden.db.migrate import upgrade
from spendwarden.ingest.files import import_file
from spendwarden.runtime import Runtime, build_runtime
from tests.factories import make_agent

runner = CliRunner()


def write_ndjson(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def total(runtime: Runtime, agent: str) -> str:
    return str(runtime.ledger.view(agent)["spend"]["total"])


def test_import_ndjson_reports_rejects_and_never_counts_twice(runtime: Runtime, tmp_path: Path) -> None:
    make_agent(runtime.ledger, "a")
    at = "2026-11-23T11:00:00Z"
    src = write_ndjson(
        tmp_path / "events.ndjson",
        [
            {"agent_id": "a", "amount_usd": "1.50", "occurred_at": at},  # no external id: keyed by line
            "{broken",
            {"agent_id": "nobody", "amount_usd": "1", "occurred_at": at},
            {"agent_id": "a", "amount_usd": "0.25", "external_id": "x-1", "occurred_at": at},
        ],
    )
    rejects = tmp_path / "bad.ndjson"
    state = import_file(runtime.ledger.core, src, rejects=rejects, batch_size=2)
    assert (state.accepted, state.duplicates, state.rejected) == (2, 0, 2)
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["error"]["code"]) for b in bad] == [(2, "invalid_json"), (3, "unknown_agent")]
    again = import_file(runtime.ledger.core, src, rejects=rejects, restart=True)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert runtime.ledger.view("a")["spend"]["daily"] == "1.750000"


def test_import_resumes_after_a_crash(runtime: Runtime, tmp_path: Path) -> None:
    make_agent(runtime.ledger, "a")
    src = write_ndjson(tmp_path / "big.ndjson", [{"agent_id": "a", "amount_usd": "0.01"} for _ in range(10)])
    calls = []

    def crash_after_first_batch(done: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(
            runtime.ledger.core, src, rejects=tmp_path / "r", batch_size=4, progress=crash_after_first_batch
        )
    with runtime.store.read() as conn:
        from spendwarden.ingest.files import FileIdentity

        stored = qi.get_import_progress(conn, FileIdentity.of(src).id)
    assert stored is not None and stored["line"] == 4 and stored["accepted"] == 4
    state = import_file(runtime.ledger.core, src, rejects=tmp_path / "r", batch_size=4)
    assert (state.accepted, state.duplicates) == (10, 0)
    assert runtime.ledger.view("a")["spend"]["daily"] == "0.100000"


def test_csv_import_with_quoted_newlines(runtime: Runtime, tmp_path: Path) -> None:
    make_agent(runtime.ledger, "a")
    src = tmp_path / "events.csv"
    src.write_text(
        "agent_id,amount_usd,vendor,description,metadata,attempt,model,input_tokens,output_tokens\n"
        'a,0.50,openai,"two\nlines","{""k"": 1}",2,gpt-4o,100,10\n'
        "a,,openai,,,,gpt-4o,1000,500\n"
        "a,abc,,,,,,,\n"
    )
    state = import_file(runtime.ledger.core, src, rejects=tmp_path / "r")
    assert (state.accepted, state.rejected) == (2, 1)
    assert json.loads((tmp_path / "r").read_text())["line"] == 5
    assert runtime.ledger.view("a")["spend"]["daily"] == "0.507500"


def test_export_then_import_into_a_fresh_database_reproduces_totals(runtime: Runtime, tmp_path: Path) -> None:
    make_agent(runtime.ledger, "a")
    make_agent(runtime.ledger, "b")
    src = write_ndjson(
        tmp_path / "seed.ndjson",
        [{"agent_id": "a" if i % 3 else "b", "amount_usd": f"0.{i:02d}",
          "status": "refunded" if i == 7 else "settled", "description": "x,\"y\"\nz",
          "metadata": {"i": i}, "occurred_at": "2025-01-15T10:00:00Z",
          **({"model": "gpt-4o", "usage": {"input_tokens": 10, "output_tokens": 1}} if i % 2 else {})}
         for i in range(1, 30)],
    )  # fmt: skip
    import_file(runtime.ledger.core, src, rejects=tmp_path / "r")
    fresh = tmp_path / "fresh.db"
    upgrade(f"sqlite:///{fresh}")
    other = build_runtime(Settings(database_url=f"sqlite:///{fresh}"), migrate=False)
    try:
        make_agent(other.ledger, "a")
        make_agent(other.ledger, "b")
        for fmt in ("ndjson", "csv"):
            out = tmp_path / f"ledger.{fmt}"
            done = runner.invoke(
                app, ["export", "--format", fmt, "--output", str(out), "-d", runtime.settings.database_url]
            )
            assert done.exit_code == 0, done.output
            loaded = runner.invoke(app, ["import", str(out), "-d", f"sqlite:///{fresh}"])
            assert loaded.exit_code == 0, loaded.output
        for agent in ("a", "b"):
            assert total(other, agent) == total(runtime, agent)
        assert "accepted 0" in loaded.output  # the csv repeated what the ndjson brought
        assert other.ledger.verify()["ok"]
    finally:
        other.close()


def test_cli_rerun_reports_what_this_run_added(runtime: Runtime, tmp_path: Path) -> None:
    make_agent(runtime.ledger, "a")
    src = write_ndjson(tmp_path / "e.ndjson", [{"agent_id": "a", "amount_usd": "0.10"} for _ in range(3)])
    db = ["-d", runtime.settings.database_url]
    first = runner.invoke(app, ["import", str(src), *db])
    assert first.exit_code == 0, first.output
    assert "accepted 3, duplicates 0, rejected 0" in first.output
    assert "resumed" not in first.output
    again = runner.invoke(app, ["import", str(src), *db])
    assert again.exit_code == 0, again.output
    assert "accepted 0, duplicates 0, rejected 0" in again.output
    assert "they accepted 3, duplicates 0, rejected 0" in " ".join(again.output.split())
    restarted = runner.invoke(app, ["import", str(src), "--restart", *db])
    assert "accepted 0, duplicates 3, rejected 0" in restarted.output
    assert total(runtime, "a") == "0.300000"
