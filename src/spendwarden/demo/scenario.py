"""The live scenario: a normal hour, then four scripted incidents among the normal traffic.

Incident start times spread over the simulated span (``--duration`` x ``--speed``); each
incident lasts as long, in simulated minutes, as its detector needs to see it in real life:

* runaway loop: the researcher repeats one summarising call 20 times a minute;
* rail shift: the billing agent stops paying over Stripe and pays a data API per request
  over x402 instead;
* retry storm: the support bot's calls fail twice before they succeed, and users retry;
* over-cap charge: the experimental agent's call costs $1.60 against a $0.40 estimate,
  which breaks its $1.00 single-charge halt rule (and its $0.50 per-task cap).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from spendwarden.demo.fleet import FLEET, SUMMARIZE, llm_cost, profile
from spendwarden.demo.traffic import Spend, Traffic, usd

NORMAL = timedelta(minutes=60)
MIN_SPAN_SECONDS = 9_000  # the incidents below need two and a half simulated hours
LOOP_LENGTH = timedelta(minutes=12)
SHIFT_LENGTH = timedelta(minutes=40)
STORM_LENGTH = timedelta(minutes=15)
X402_PATHS = ("quote", "rates", "history")  # pay-per-request endpoints of the x402 data API


@dataclass(frozen=True)
class Incident:
    key: str
    title: str
    agent: str  # the agent id on the server
    rules: tuple[str, ...]  # a fired alert of any of these rules on that agent catches it
    start: datetime
    end: datetime
    story: str


@dataclass
class Step:
    """One thing the player does at simulated time ``at``."""

    at: datetime
    kind: Literal["spend", "note", "overcap", "probe"]
    agent: str = ""
    spend: Spend | None = None
    text: str = ""
    incident: Incident | None = None


@dataclass
class Scenario:
    start: datetime
    span: timedelta
    incidents: list[Incident] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        return self.start + self.span


def build(traffic: Traffic, start: datetime, span: timedelta) -> Scenario:
    """The whole live timeline, sorted by simulated time."""
    ids = traffic.ids
    free = span - NORMAL
    at = [start + NORMAL + free * share for share in (0.05, 0.2, 0.45, 0.7)]
    loop = Incident(
        "loop",
        "Runaway loop",
        ids["researcher"],
        ("runaway_loop", "velocity_spike"),
        at[0],
        at[0] + LOOP_LENGTH,
        "the researcher sends the same summarise call 20 times a minute",
    )
    shift = Incident(
        "shift",
        "Rail shift to x402",
        ids["billing-agent"],
        ("rail_shift",),
        at[1],
        at[1] + SHIFT_LENGTH,
        "the billing agent stops paying by Stripe and pays a data API over x402",
    )
    storm = Incident(
        "storm",
        "Retry storm",
        ids["support-bot"],
        ("retry_cost",),
        at[2],
        at[2] + STORM_LENGTH,
        "the support bot's model calls fail twice before they succeed",
    )
    overcap = Incident(
        "overcap",
        "Over-cap charge",
        ids["growth-experiment"],
        ("auto_halt", "cap_breach"),
        at[3],
        at[3],
        "the experimental agent is charged $1.60 for a call estimated at $0.40",
    )
    scenario = Scenario(start, span, [loop, shift, storm, overcap])
    steps = [Step(start, "note", text="a normal hour: every agent at its usual pace")]
    steps += _normal(traffic, scenario, shift, storm)
    steps += [
        Step(i.start, "note", agent=i.agent, text=f"{i.title}: {i.story}", incident=i)
        for i in scenario.incidents
    ]
    steps += _loop(traffic, loop) + _shift(traffic, shift) + _storm(traffic, storm)
    steps += [
        Step(overcap.start, "overcap", agent=overcap.agent, incident=overcap),
        Step(overcap.start + timedelta(minutes=2), "probe", agent=overcap.agent, incident=overcap),
    ]
    order = {"note": 0, "overcap": 1, "probe": 1, "spend": 2}
    scenario.steps = sorted(steps, key=lambda s: (s.at, order[s.kind]))
    return scenario


def _normal(traffic: Traffic, sc: Scenario, shift: Incident, storm: Incident) -> list[Step]:
    """Everyone's usual traffic, minus what the incidents replace."""
    steps: list[Step] = []
    for p in FLEET:
        for spend in traffic.between(p, sc.start, sc.end):
            if _replaced(spend, shift, storm):
                continue
            steps.append(Step(spend.at, "spend", agent=spend.agent, spend=spend))
    return steps


def _replaced(spend: Spend, shift: Incident, storm: Incident) -> bool:
    if spend.agent == shift.agent and shift.start <= spend.at < shift.end:
        return spend.body.get("rail") == "stripe"
    return spend.agent == storm.agent and storm.start <= spend.at < storm.end


def _spends(spends: Iterable[Spend], incident: Incident) -> list[Step]:
    return [Step(s.at, "spend", agent=s.agent, spend=s, incident=incident) for s in spends]


def _loop(traffic: Traffic, inc: Incident) -> list[Step]:
    model = "claude-haiku-4-5"
    body = {
        "amount_usd": usd(llm_cost(model, *SUMMARIZE)),
        "vendor": "anthropic",
        "model": model,
        "usage": {"input_tokens": SUMMARIZE[0], "output_tokens": SUMMARIZE[1]},
        "task_id": f"{inc.agent}-task-loop",
    }
    count = int(LOOP_LENGTH.total_seconds() / 60 * 20)
    return _spends(
        (Spend(inc.start + timedelta(seconds=3 * i), inc.agent, dict(body)) for i in range(count)), inc
    )


def _shift(traffic: Traffic, inc: Incident) -> list[Step]:
    spends = []
    for i in range(int(SHIFT_LENGTH.total_seconds() / 15)):
        body = {
            "amount_usd": usd(0.02),
            "rail": "x402",
            "kind": "payment",
            "vendor": "fxrates.example",
            "endpoint": f"https://api.fxrates.example/v1/{X402_PATHS[i % len(X402_PATHS)]}",
            "metadata": {"network": "base", "asset": "USDC"},
        }
        jitter = traffic.rng.uniform(0, 6)
        spends.append(Spend(inc.start + timedelta(seconds=15 * i + jitter), inc.agent, body))
    return _spends(spends, inc)


def _storm(traffic: Traffic, inc: Incident) -> list[Step]:
    """Two user requests a minute, whatever the hour; each call fails twice (paying for half
    its tokens each time) and then succeeds."""
    spends, support = [], profile("support-bot")
    for i in range(int(STORM_LENGTH.total_seconds() / 30)):
        call = traffic.spend(support, inc.start + timedelta(seconds=30 * i + traffic.rng.uniform(0, 20)))
        amount = float(call.body["amount_usd"])
        for attempt, status, share in ((1, "failed", 0.5), (2, "failed", 0.5), (3, "settled", 1.0)):
            body = {**call.body, "attempt": attempt, "status": status, "amount_usd": usd(amount * share)}
            spends.append(Spend(call.at + timedelta(seconds=3 * (attempt - 1)), inc.agent, body))
    return _spends(spends, inc)
