"""``KnownAgents``: what the database function is told about an agent is exactly what the
ledger parses from the same row, and the memory stays bounded."""

from __future__ import annotations

from spendwarden.ledger.caps import CAP_NAMES
from spendwarden.ledger.known import KnownAgents, parse
from spendwarden.ledger.types import Agent


def test_parse_reads_caps_and_policy_as_the_agent_row_does() -> None:
    caps_text, policy_text = '{"daily": 5000000, "per_task": "700"}', '{"blocked_vendors": ["x"]}'
    row = {
        "id": "bot", "name": "bot", "owner": "", "tier": "custom", "status": "active", "status_reason": None,
        "caps": caps_text, "halt_rules": "{}", "policy": policy_text, "active_hours": None,
        "task_scope": None, "silence_minutes": 15, "labels": "{}", "signals": "{}", "created_at": 0,
        "updated_at": 0,
    }  # fmt: skip
    agent, known = Agent.from_row(row), parse(caps_text, policy_text)
    assert (known.caps, known.policy) == (agent.caps, agent.policy)
    assert known.limits == [None, 700, None, 5_000_000, None, None, None]
    assert len(known.limits) == len(CAP_NAMES)


def test_the_cache_empties_when_full_and_forgets_on_request() -> None:
    known = KnownAgents(limit=3)
    for i in range(3):
        known.put(f"a{i}", "{}", "{}")
    assert len(known) == 3 and "a0" in known
    known.put("a3", '{"total": 1}', "{}")  # full: starts again rather than grow
    assert len(known) == 1 and known.get("a0") is None
    assert known.get("a3") is not None and known.get("a3").limits[-1] == 1  # type: ignore[union-attr]
    known.forget("a3")
    known.forget("never")
    assert len(known) == 0


def test_agents_with_the_same_configuration_share_one_parse() -> None:
    known = KnownAgents(config_limit=2)
    first = known.put("a", '{"daily": 5}', "{}")
    assert known.put("b", '{"daily": 5}', "{}") is first  # a tier's presets: parsed once
    other = known.put("c", '{"daily": 6}', "{}")
    assert other is not first and other.limits[CAP_NAMES.index("daily")] == 6
    third = known.put("d", '{"daily": 7}', "{}")  # past config_limit: parses again from scratch
    assert known.get("a") is first and known.get("d") is third  # agents already known keep theirs
    assert known.put("e", '{"daily": 5}', "{}") == first
    assert len(known) == 5
