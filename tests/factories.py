"""Builders for test data; they go through the real ledger, never around it."""

from __future__ import annotations

from typing import Any

from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.service import Ledger
from spendwarden.money import usd


def make_agent(ledger: Ledger, agent_id: str = "bot", tier: str = "custom", **caps: str | None) -> str:
    """Create an agent with caps given in USD strings; returns its API key."""
    spec = AgentSpec(
        id=agent_id, tier=tier, caps={k: (usd(v) if v is not None else None) for k, v in caps.items()}
    )
    _, key = ledger.create_agent(spec, "test")
    return key


def spend(agent_id: str, amount: str, **fields: Any) -> SpendEvent:
    return SpendEvent(agent_id=agent_id, amount=usd(amount), **fields)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
