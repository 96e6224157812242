"""Plays the live timeline: waits for each step's moment in accelerated time, then sends it.

Normal spends go to ``POST /v1/transactions`` with their ``occurred_at``; the over-cap
charge goes through the full authorize → settle path, and a second authorization shows
the halted agent being refused (423). When the machine is slower than ``--speed`` asks,
the player falls behind the wall clock and simulated time simply runs slower: it never
skips a step.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from spendwarden.demo.client import DemoAPI
from spendwarden.demo.clock import DemoClock
from spendwarden.demo.report import Watch
from spendwarden.demo.scenario import Scenario, Step

ESTIMATE, ACTUAL = "0.40", "1.60"


@dataclass
class Player:
    api: DemoAPI
    keys: dict[str, str]  # agent id -> API key
    clock: DemoClock
    speed: float
    watch: Watch
    sent: int = 0
    halted: set[str] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)

    def play(self, scenario: Scenario) -> float:
        """Run every step; answers the wall seconds it took."""
        wall0 = time.monotonic()
        self.watch.wall0 = wall0
        for step in scenario.steps:
            self._wait(wall0, scenario.start, step.at)
            self.clock.advance_to(step.at)
            self._do(step)
        self.clock.advance_to(scenario.end)
        return time.monotonic() - wall0

    def _wait(self, wall0: float, start: datetime, at: datetime) -> None:
        delay = wall0 + (at - start).total_seconds() / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _do(self, step: Step) -> None:
        if step.kind == "note":
            self.watch.note(step.at, step.text)
        elif step.kind == "spend" and step.spend is not None and step.agent not in self.halted:
            self._record(step)
        elif step.kind == "overcap":
            self._overcap(step)
        elif step.kind == "probe":
            self._probe(step)

    def _record(self, step: Step) -> None:
        assert step.spend is not None
        response = self.api.agent_call(self.keys[step.agent], "/v1/transactions", step.spend.transaction())
        self.sent += 1
        if response.status_code == 423:
            self.halted.add(step.agent)
        elif response.status_code >= 400:
            self._error(step, response.status_code, response.text)

    def _overcap(self, step: Step) -> None:
        key, task = self.keys[step.agent], f"{step.agent}-task-bulk-enrich"
        hold = self.api.agent_call(
            key,
            "/v1/authorize",
            {
                "amount_usd": ESTIMATE,
                "vendor": "openai",
                "model": "gpt-4.1",
                "task_id": task,
            },
        )
        if hold.status_code != 200:
            self._error(step, hold.status_code, hold.text)
            return
        hold_id = hold.json()["id"]
        self.watch.note(
            step.at, f"{step.agent}: authorized ${ESTIMATE} ({hold_id}); the call costs ${ACTUAL}"
        )
        settled = self.api.agent_call(key, f"/v1/authorizations/{hold_id}/settle", {"amount_usd": ACTUAL})
        self.sent += 2
        if settled.status_code >= 400:
            self._error(step, settled.status_code, settled.text)

    def _probe(self, step: Step) -> None:
        """The halted agent's next authorization is refused with 423."""
        response = self.api.agent_call(
            self.keys[step.agent],
            "/v1/authorize",
            {"amount_usd": "0.01", "vendor": "openai", "model": "gpt-4o-mini"},
        )
        self.sent += 1
        code = response.json().get("error", {}).get("code", "") if response.status_code >= 400 else ""
        verdict = "refused" if response.status_code == 423 else "NOT refused"
        self.watch.note(step.at, f"{step.agent} tries again: {response.status_code} {code} ({verdict})")
        if response.status_code == 423:
            self.halted.add(step.agent)

    def _error(self, step: Step, status: int, text: str) -> None:
        self.errors[f"{status}"] += 1
        if self.errors[f"{status}"] <= 3:
            self.watch.note(step.at, f"unexpected {status} for {step.agent}: {text[:200]}")
