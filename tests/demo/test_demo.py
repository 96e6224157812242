"""``spendwarden demo`` end to end: its own server, a week of history, the live scenario.

Runs the real command in a subprocess (as a newcomer would) against the real detectors,
and checks that each scripted incident is reported as caught by its rule.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from spendwarden.config import Settings
from spendwarden.demo.runner import Options, run
from spendwarden.demo.scenario import MIN_SPAN_SECONDS, build
from spendwarden.demo.traffic import Traffic
from spendwarden.runtime import build_runtime
from spendwarden.sdk.server import LocalServer

EXPECTED = {
    "Runaway loop": ("researcher", ("runaway_loop", "velocity_spike")),
    "Rail shift to x402": ("billing-agent", ("rail_shift",)),
    "Retry storm": ("support-bot", ("retry_cost",)),
    "Over-cap charge": ("growth-experiment", ("auto_halt", "cap_breach")),
}


@pytest.mark.slow
def test_demo_catches_every_scripted_incident(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    env.pop("SPENDWARDEN_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "spendwarden.cli", "demo", "--duration", "20", "--speed", "600", "--exit"],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"Dashboard: +http://127\.0\.0\.1:\d+/", out)
    assert "Admin token: sw_admin_" in out
    for incident, (agent, rules) in EXPECTED.items():
        row = next(line for line in out.splitlines() if line.startswith(f"│ {incident} "))
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[1] == agent
        assert cells[4] in rules, row
    assert "423 agent_halted (refused)" in out
    assert "Every scripted incident was caught by its rule." in out


def test_too_short_a_span_is_refused_before_anything_starts() -> None:
    from typer.testing import CliRunner

    from spendwarden.cli import app

    result = CliRunner().invoke(app, ["demo", "--duration", "5", "--speed", "10", "--exit"])
    assert result.exit_code == 2
    assert "at least" in result.output


def test_the_live_timeline_is_ordered_and_inside_the_span() -> None:
    import random
    from datetime import UTC, datetime

    from spendwarden.demo.fleet import FLEET

    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    span = timedelta(seconds=MIN_SPAN_SECONDS)
    scenario = build(Traffic(random.Random(1), {p.id: p.id for p in FLEET}), start, span)
    times = [step.at for step in scenario.steps]
    assert times == sorted(times)
    assert start <= times[0] and times[-1] <= start + span
    assert [i.key for i in scenario.incidents] == ["loop", "shift", "storm", "overcap"]
    assert all(i.end <= start + span for i in scenario.incidents)


@pytest.mark.slow
def test_against_a_running_server_whose_detectors_tick_on_wall_time(tmp_path: Path) -> None:
    """``--no-server``: the server's sweeper ticks every agent on its own clock while the demo
    plays; the scenario runs ahead of that clock, so no tick overtakes the events."""
    token = "demo-test-admin-token-0123456789"
    runtime = build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'server.db'}", admin_token=token))
    console = Console(file=io.StringIO(), width=160)
    try:
        with LocalServer(runtime, workers=True) as server:
            options = Options(
                duration=15, speed=600, seed=3, history_days=2, no_server=True, url=server.url, token=token
            )
            code = run(options, console)
    finally:
        runtime.close()
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == 0, out
    assert "Every scripted incident was caught by its rule." in out
