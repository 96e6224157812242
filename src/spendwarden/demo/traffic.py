"""Normal traffic: Poisson arrivals per minute, shaped by the time of day and the weekday.

Everything comes from one seeded ``random.Random``, so ``--seed`` replays the same fleet.
A spend is a ``Spend``: when, which agent, and the body of ``POST /v1/transactions``
(the same fields ``POST /v1/ingest/events`` takes, plus ``agent_id``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from spendwarden.demo.fleet import Call, Profile, llm_cost

PEAK_HOUR = 14.0
MINUTE = timedelta(minutes=1)


def _raw_daily_shape(hour: float) -> float:
    distance = abs(hour - PEAK_HOUR)
    distance = min(distance, 24 - distance)
    return 0.6 + 0.8 * math.exp(-((distance / 5.0) ** 2))


_NORM = sum(_raw_daily_shape(m / 60) for m in range(1440)) / 1440


def activity(p: Profile, at: datetime) -> float:
    """How busy the agent is at ``at`` relative to its average weekday hour (mean 1)."""
    local = at + timedelta(hours=p.utc_offset)
    factor = _raw_daily_shape(local.hour + local.minute / 60) / _NORM
    return factor * (p.weekend if local.weekday() >= 5 else 1.0)


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small per-minute rates here."""
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def usd(amount: float) -> str:
    return f"{max(amount, 0.000001):.6f}"


@dataclass
class Spend:
    at: datetime
    agent: str
    body: dict[str, Any]

    def event(self) -> dict[str, Any]:
        """As a canonical event for ``POST /v1/ingest/events``."""
        return {**self.body, "agent_id": self.agent, "occurred_at": self.at.isoformat()}

    def transaction(self) -> dict[str, Any]:
        """As a body for ``POST /v1/transactions`` (the agent is the key's)."""
        return {**self.body, "occurred_at": self.at.isoformat()}


@dataclass
class _Tasks:
    """Consecutive calls of an agent share a task id until the task ends (geometric length)."""

    counter: int = 0
    current: str | None = None
    left: int = 0


@dataclass
class Traffic:
    rng: random.Random
    ids: dict[str, str]  # profile id -> agent id on the server (a suffix keeps runs apart)
    tasks: dict[str, _Tasks] = field(default_factory=dict)

    def between(self, p: Profile, start: datetime, end: datetime, rate: float = 1.0) -> Iterator[Spend]:
        """Normal spends of one agent in ``[start, end)``; ``rate`` scales its pace."""
        minute = start
        while minute < end:
            lam = p.per_hour / 60 * activity(p, minute) * rate
            seconds = sorted(self.rng.uniform(0, 60) for _ in range(poisson(self.rng, lam)))
            for second in seconds:
                at = minute + timedelta(seconds=second)
                if at < end:
                    yield self.spend(p, at)
            minute += MINUTE

    def spend(self, p: Profile, at: datetime, call: Call | None = None) -> Spend:
        call = call or self.rng.choices(p.calls, weights=[c.weight for c in p.calls])[0]
        body = call.fields()
        noise = math.exp(self.rng.gauss(0, 0.3))
        if call.model is not None:
            tokens_in = max(1, int(call.tokens[0] * noise))
            tokens_out = int(call.tokens[1] * math.exp(self.rng.gauss(0, 0.3)))
            body["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
            body["amount_usd"] = usd(llm_cost(call.model, tokens_in, tokens_out))
        else:
            amount = call.usd * noise
            body["amount_usd"] = usd(amount)
            if call.sats_per_usd:
                body["original_amount"] = str(max(1, round(amount * call.sats_per_usd)))
                body["original_currency"] = "SAT"
        task = self.task_id(p)
        if task is not None:
            body["task_id"] = task
        if p.users:
            body["user_id"] = f"user-{self.rng.randrange(p.users):04d}"
        return Spend(at, self.ids[p.id], body)

    def task_id(self, p: Profile) -> str | None:
        if not p.task_size:
            return None
        book = self.tasks.setdefault(p.id, _Tasks())
        if book.left <= 0:
            book.counter += 1
            book.current = f"{self.ids[p.id]}-task-{book.counter:05d}"
            book.left = 1 + int(self.rng.expovariate(1 / max(p.task_size - 1, 1)))
        book.left -= 1
        return book.current
