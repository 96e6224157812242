"""``spendwarden serve`` applies process settings before it starts the server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spendwarden.cli import app


def test_serve_sets_the_gil_switch_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[float] = []

    def fake_run(*_args: Any, **_kwargs: Any) -> None:
        started.append(sys.getswitchinterval())

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setenv("SPENDWARDEN_GIL_SWITCH_INTERVAL_MS", "0.5")
    monkeypatch.setenv("SPENDWARDEN_ADMIN_TOKEN", "serve-settings-admin-token-0123456789")
    before = sys.getswitchinterval()
    try:
        result = CliRunner().invoke(app, ["serve", "--database", f"sqlite:///{tmp_path / 'sw.db'}"])
        assert result.exit_code == 0, result.output
        assert started == [pytest.approx(0.0005)]
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("on", [True, False])
def test_serve_warms_the_tables_on_start_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on: bool
) -> None:
    warmed: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *_args, **_kwargs: None)
    monkeypatch.setattr("spendwarden.db.warm.warm_in_background", warmed.append)
    monkeypatch.setenv("SPENDWARDEN_WARM_ON_START", "true" if on else "false")
    monkeypatch.setenv("SPENDWARDEN_ADMIN_TOKEN", "serve-settings-admin-token-0123456789")
    result = CliRunner().invoke(app, ["serve", "--database", f"sqlite:///{tmp_path / 'sw.db'}"])
    assert result.exit_code == 0, result.output
    assert len(warmed) == (1 if on else 0)
