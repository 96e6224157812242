"""The agents' configuration as this process last read it, for ``spendwarden_authorize``.

The database function never trusts it: it compares the texts with the locked row and
answers ``stale`` on any difference, so a change made by another process (a new cap, a
halt, a revoke) costs one fallback to the locked path, never a wrong decision. Bounded,
because a fleet of 400,000 agents must not become 400,000 parsed configurations: agents
with the same caps and policy texts (a tier's presets, a team's template) share one parse,
so an agent costs one dictionary entry, and a fleet of 400,000 stays known in full
instead of being read again on every request once a smaller bound had emptied the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.ledger.caps import CAP_NAMES
from spendwarden.ledger.types import loads, parse_caps

LIMIT = 1_000_000  # agents
CONFIG_LIMIT = 10_000  # distinct (caps, policy) pairs


@dataclass(frozen=True, slots=True)
class KnownAgent:
    caps_text: str
    policy_text: str
    caps: dict[str, int]
    policy: dict[str, list[str]]
    limits: list[int | None]  # in CAP_NAMES order, None where no cap is set


def parse(caps_text: str, policy_text: str) -> KnownAgent:
    """As ``Agent.from_row`` parses the same two columns."""
    caps = parse_caps(caps_text)
    return KnownAgent(caps_text, policy_text, caps, loads(policy_text, {}), [caps.get(c) for c in CAP_NAMES])


class KnownAgents:
    """agent id -> ``KnownAgent``, one parse per distinct configuration; each map is emptied
    when it reaches its bound (re-reading one row per agent is cheap; tracking recency per
    call is not). Callers never mutate a ``KnownAgent``'s dicts: they are shared."""

    def __init__(self, limit: int = LIMIT, config_limit: int = CONFIG_LIMIT) -> None:
        self.limit = limit
        self.config_limit = config_limit
        self._by_id: dict[str, KnownAgent] = {}
        self._configs: dict[tuple[str, str], KnownAgent] = {}

    def get(self, agent_id: str) -> KnownAgent | None:
        return self._by_id.get(agent_id)

    def put(self, agent_id: str, caps_text: str, policy_text: str) -> KnownAgent:
        if len(self._by_id) >= self.limit:
            self._by_id.clear()
        texts = (caps_text, policy_text)
        known = self._configs.get(texts)
        if known is None:
            if len(self._configs) >= self.config_limit:
                self._configs.clear()
            known = self._configs[texts] = parse(caps_text, policy_text)
        self._by_id[agent_id] = known
        return known

    def forget(self, agent_id: str) -> None:
        self._by_id.pop(agent_id, None)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)
