"""A small, believable fleet for the dashboard: five agents, a day of spend on four rails."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.service import Ledger
from spendwarden.money import usd

AGENTS = [
    ("research-bot", "Research assistant", "research", {"daily": "250", "monthly": "4000", "per_task": "25"}),
    (
        "support-bot",
        "Customer support",
        "support",
        {"daily": "60", "monthly": "1200", "per_transaction": "2"},
    ),
    (
        "procurement",
        "Procurement agent",
        "finance",
        {"per_transaction": "400", "daily": "1500", "monthly": "12000"},
    ),
    ("scraper", "Web data collector", "growth", {"daily": "40", "monthly": "600"}),
    ("reconciler", "Billing reconciler", "finance", {"daily": "20", "monthly": "300"}),
]

# (rail, vendor, tool, model, kind, low, high) per agent: the shape of its day.
PROFILES: dict[str, list[tuple[str, str, str | None, str | None, str, float, float]]] = {
    "research-bot": [
        ("llm_api", "openai", "web_search", "gpt-4o", "llm_call", 0.02, 0.9),
        ("llm_api", "anthropic", "summarize", "claude-sonnet-4", "llm_call", 0.03, 1.2),
        ("x402", "exa.ai", "web_search", None, "payment", 0.05, 0.5),
    ],
    "support-bot": [
        ("llm_api", "anthropic", "answer", "claude-haiku-4", "llm_call", 0.01, 0.25),
        ("llm_api", "openai", "kb_search", "text-embedding-3-small", "embedding", 0.0001, 0.001),
    ],
    "procurement": [
        ("stripe", "aws-marketplace", "purchase", None, "payment", 4, 30),
        ("card", "figma", "subscription", None, "payment", 3, 15),
        ("llm_api", "openai", "compare_quotes", "gpt-4o", "llm_call", 0.02, 0.2),
    ],
    "scraper": [
        ("x402", "firecrawl", "crawl", None, "payment", 0.02, 0.3),
        ("l402", "lightning-data", "fetch", None, "payment", 0.002, 0.02),
    ],
    "reconciler": [("llm_api", "openai", "match_invoices", "gpt-4o-mini", "llm_call", 0.002, 0.03)],
}


def seed_fleet(ledger: Ledger, now: datetime, *, hours: int = 20, seed: int = 7) -> dict[str, str]:
    """Create the agents and record a day of spend ending ``now``; returns agent id -> API key."""
    rng = random.Random(seed)
    keys: dict[str, str] = {}
    for agent_id, name, owner, caps in AGENTS:
        spec = AgentSpec(
            id=agent_id, name=name, owner=owner, tier="custom", caps={k: usd(v) for k, v in caps.items()}
        )
        _, keys[agent_id] = ledger.create_agent(spec, "seed")
    start = now - timedelta(hours=hours)
    events = []
    for agent_id, profile in PROFILES.items():
        count = {"procurement": 10, "reconciler": 20}.get(agent_id, 90)
        for i in range(count):
            rail, vendor, tool, model, kind, low, high = rng.choice(profile)
            at = start + timedelta(seconds=rng.uniform(0, hours * 3600 - 120))
            amount = f"{rng.uniform(low, high):.6f}"
            usage = (
                TokenUsage(input=rng.randint(400, 9000), output=rng.randint(50, 1200))
                if kind == "llm_call"
                else None
            )
            events.append(
                SpendEvent(
                    agent_id=agent_id,
                    amount=usd(amount),
                    rail=rail,
                    vendor=vendor,
                    tool=tool,
                    model=model,
                    kind=kind,
                    usage=usage,
                    task_id=f"task-{agent_id[:3]}-{i // 6:03d}",
                    occurred_at=at,
                    source="import",
                    external_id=f"seed-{agent_id}-{i}",
                )
            )
    for event in sorted(events, key=lambda e: e.occurred_at or now):
        ledger.record(event)
    ledger.halt("reconciler", "admin:seed", "Paused during quarter close")
    return keys
