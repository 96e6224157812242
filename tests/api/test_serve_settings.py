"""``spendwarden serve`` applies process settings before it starts the server
(``interpreter.tune_for_serving``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spendwarden.cli import app


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``gc.freeze`` recorded, not done: frozen, this test process would keep every cycle
    of the tests after it. The collector's thresholds are restored after each test."""
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    threshold = gc.get_threshold()
    yield calls
    gc.set_threshold(*threshold)


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
def test_serve_freezes_what_lives_as_long_as_the_process_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: list[str], on: bool
) -> None:
    """The app is built before the freeze (its objects are the ones to freeze) and the
    server starts after it."""
    order: list[str] = frozen
    monkeypatch.setattr("uvicorn.run", lambda served, **_kwargs: order.append(type(served).__name__))
    monkeypatch.setenv("SPENDWARDEN_GC_FREEZE", "true" if on else "false")
    monkeypatch.setenv("SPENDWARDEN_ADMIN_TOKEN", "serve-settings-admin-token-0123456789")
    result = CliRunner().invoke(app, ["serve", "--database", f"sqlite:///{tmp_path / 'sw.db'}"])
    assert result.exit_code == 0, result.output
    assert order == (["freeze", "FastAPI"] if on else ["FastAPI"])


@pytest.mark.parametrize(("setting", "young"), [("50000", 50_000), ("0", 700)])
def test_serve_sets_the_collectors_young_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, young: int
) -> None:
    gc.set_threshold(700, 10, 10)  # Python's defaults
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr("uvicorn.run", lambda *_args, **_kwargs: seen.append(gc.get_threshold()))
    monkeypatch.setenv("SPENDWARDEN_GC_YOUNG_THRESHOLD", setting)
    monkeypatch.setenv("SPENDWARDEN_ADMIN_TOKEN", "serve-settings-admin-token-0123456789")
    result = CliRunner().invoke(app, ["serve", "--database", f"sqlite:///{tmp_path / 'sw.db'}"])
    assert result.exit_code == 0, result.output
    assert seen == [(young, 10, 10)]


def test_a_frozen_interpreter_collects_only_what_came_after() -> None:
    """What ``gc.freeze`` does, in a process of its own: a full collection no longer walks
    the objects alive at the freeze (fewer tracked objects), and garbage made afterwards is
    still collected."""
    script = textwrap.dedent(
        """
        import gc, json
        from spendwarden.config import Settings
        from spendwarden.interpreter import tune_for_serving
        import spendwarden.api.app  # a server's modules
        before = len(gc.get_objects())
        tune_for_serving(Settings(gc_freeze=True))
        after = len(gc.get_objects())
        cycle = []; cycle.append(cycle); del cycle
        print(json.dumps([before, after, gc.get_freeze_count(), gc.collect()]))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    before, after, frozen_count, collected = json.loads(out)
    assert before > 50_000 and after < before / 10 and frozen_count > 50_000
    assert collected >= 1  # the cycle made after the freeze


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
