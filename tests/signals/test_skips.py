"""The engine skips a closed rule only when a bound proves its check returns None: with the
bounds switched off (every rule evaluated in full after every event) the same alerts fire,
the same ones resolve, and the state ends the same."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from spendwarden.signals import AgentContext, SignalConfig, effective
from spendwarden.signals import engine as engine_mod
from spendwarden.signals.state import AgentSignalState
from tests.signals.factories import MONDAY, Feed, burst, history


def _workload(feed: Feed, seed: int) -> None:
    """A baseline day, then random bursts: fast loops, identical requests, retries, failures,
    rail switches, quiet gaps; ticks in between."""
    rng = random.Random(seed)
    at = history(feed, days=1, per_min=1.0)
    for _ in range(60):
        at += timedelta(minutes=rng.choice([0, 1, 3, 20, 90]))
        kind = rng.choice(["loop", "same", "retry", "fail", "rail", "calm"])
        burst(feed, at, kind, rng.randrange(1, 60), rng.choice([1_000, 50_000, 400_000, 3_000_000]))
        if rng.random() < 0.3:
            feed.tick(at + timedelta(minutes=30))


def _run(monkeypatch: pytest.MonkeyPatch, seed: int, cfg: SignalConfig, full: bool) -> Feed:
    if full:
        monkeypatch.setattr(engine_mod, "runaway_quiet", lambda *a: False)
        monkeypatch.setattr(engine_mod.anomaly, "could_fire", lambda *a: True)
        monkeypatch.setattr(engine_mod.quality, "too_few_calls", lambda *a: False)
    feed = Feed(ctx=AgentContext(agent_id="a", tier="production"), cfg=cfg, state=AgentSignalState())
    _workload(feed, seed)
    monkeypatch.undo()
    return feed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"anomaly_threshold": 0.3, "retry_min_calls": 3, "failure_min_calls": 4, "runaway_min_tx_per_min": 3},
    ],
)
def test_skipping_changes_no_outcome(
    monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]
) -> None:
    cfg = effective(Feed().cfg, overrides)
    fast = _run(monkeypatch, seed, cfg, full=False)
    full = _run(monkeypatch, seed, cfg, full=True)
    assert [(a.rule, a.dedupe_key, a.severity, a.figures) for a in fast.fired] == [
        (a.rule, a.dedupe_key, a.severity, a.figures) for a in full.fired
    ]
    assert [(r.rule, r.dedupe_key) for r in fast.cleared] == [(r.rule, r.dedupe_key) for r in full.cleared]
    assert fast.state.to_json() == full.state.to_json()
    assert MONDAY  # the workload starts on the factories' Monday
