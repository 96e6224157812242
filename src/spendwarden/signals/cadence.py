"""How often the signals tick evaluates an idle agent: once every ``IDLE_SECONDS`` of the
clock, each agent at its own phase in that period.

An agent is *idle* once ``engine.watch_until`` has passed: no open condition or task and no
event within the flow rules' windows. Only the hour- and day-scale rules
(``engine.SLOW_RULES``) can still fire for it, so it needs no 30-second tick. Phases come
from a hash of the agent id, so the idle fleet is spread evenly over the period (a few
agents each round, never all at once) and every replica agrees on them.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Iterable

IDLE_SECONDS = 600


def phase(agent_id: str, period: int = IDLE_SECONDS) -> int:
    """The second within each period at which the agent falls due."""
    return zlib.crc32(agent_id.encode()) % period


class IdleSchedule:
    """The idle agents ordered by phase, and which of them fall due between two ticks.

    Pure over plain data: the caller loads the agents, tells it when it ticked, and reloads
    when ``stale`` says so (agents that stop being idle may linger until then: ticking
    them once more is harmless)."""

    def __init__(self, period: int = IDLE_SECONDS) -> None:
        self.period = period
        self._by_phase: list[tuple[int, str]] = []
        self._members: set[str] = set()
        self.loaded_at: int | None = None

    def __len__(self) -> int:
        return len(self._by_phase)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._members

    def stale(self, now: int) -> bool:
        """A full period since the last load (or the clock went back): reload."""
        return self.loaded_at is None or not 0 <= now - self.loaded_at < self.period

    def load(self, agent_ids: Iterable[str], now: int) -> None:
        self._members = set(agent_ids)
        self._by_phase = sorted((phase(a, self.period), a) for a in self._members)
        self.loaded_at = now

    def add(self, agent_ids: Iterable[str]) -> None:
        """Agents that became idle since the last load."""
        for agent_id in agent_ids:
            if agent_id not in self._members:
                self._members.add(agent_id)
                bisect.insort(self._by_phase, (phase(agent_id, self.period), agent_id))

    def due(self, previous: int | None, now: int) -> list[str]:
        """The agents whose phase passed in ``(previous, now]`` (epoch seconds); all of them
        on the first tick, after a gap of a period or more, or when the clock went back."""
        period = self.period
        if previous is None or not 0 <= now - previous < period:
            return [a for _, a in self._by_phase]
        if now == previous:
            return []
        lo, hi = previous % period, now % period
        after_lo = bisect.bisect_right(self._by_phase, (lo, "\uffff"))
        upto_hi = bisect.bisect_right(self._by_phase, (hi, "\uffff"))
        if lo < hi:
            return [a for _, a in self._by_phase[after_lo:upto_hi]]
        return [a for _, a in self._by_phase[after_lo:]] + [a for _, a in self._by_phase[:upto_hi]]
