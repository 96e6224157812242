"""The canonical spend event: what every rail (API, Stripe, x402, L402, files, sockets)
is mapped to before it reaches the ledger.

Pure data. Amounts are micro-dollars. A mapper produces ``SpendEvent``s; the ledger
turns each into one hash-chained transaction row, exactly once per
``(source, external_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RAILS = ("llm_api", "stripe", "x402", "l402", "card", "internal")
KINDS = ("llm_call", "embedding", "tool_call", "payment", "transfer")
STATUSES = ("settled", "failed", "voided", "refunded")


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one LLM call, OpenTelemetry style: cached tokens are inside ``input``."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True)
class SpendEvent:
    """A spend that happened (or failed), ready for the ledger."""

    agent_id: str
    amount: int
    rail: str = "llm_api"
    vendor: str | None = None
    tool: str | None = None
    endpoint: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    kind: str = "llm_call"
    status: str = "settled"
    attempt: int = 1
    task_id: str | None = None
    user_id: str | None = None
    counterparty_agent_id: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "api"
    external_id: str | None = None
    occurred_at: datetime | None = None
    original_amount: str | None = None
    original_currency: str | None = None
    price_version: str | None = None
