"""The generated reference docs match the code: regenerate them and compare with the committed files.

When one fails, run ``python -m spendwarden.docs_gen`` and commit the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spendwarden.config import Settings
from spendwarden.docs_gen import GENERATORS, main

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_doc_is_fresh(name: str) -> None:
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert GENERATORS[name]() == committed, f"docs/{name} is stale: run `python -m spendwarden.docs_gen`"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, info in Settings.model_fields.items() if not (info.description or "").strip()]
    assert missing == []


def test_every_setting_and_command_is_in_the_docs() -> None:
    configuration = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`SPENDWARDEN_{name.upper()}`" in configuration
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ("serve", "migrate", "verify", "demo", "agents create", "tokens create"):
        assert f"## spendwarden {command}\n" in cli


def test_generation_is_deterministic() -> None:
    render = GENERATORS["configuration.md"]
    assert render() == render()


def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in GENERATORS:
        (tmp_path / name).write_text("stale\n", encoding="utf-8")
    assert main([str(tmp_path), "--check"]) == 1
    assert "stale" in capsys.readouterr().out
