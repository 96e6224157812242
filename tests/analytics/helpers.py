"""Shared builders for analytics tests: agents, spends through the real ledger, and the
expected answers computed straight from the raw ledger rows (the oracle)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from spendwarden.clock import to_us
from spendwarden.db.tables.core import transactions
from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.record import counter_delta
from spendwarden.runtime import Runtime

AGENTS = {"alpha": "acme", "beta": "acme", "gamma": "globex"}


def make_agents(runtime: Runtime, agents: dict[str, str] = AGENTS) -> None:
    for agent_id, owner in agents.items():
        runtime.ledger.create_agent(AgentSpec(id=agent_id, owner=owner, tier="custom"), "test")


def event(agent_id: str, amount: int, at: datetime, **fields: Any) -> SpendEvent:
    usage = fields.pop("usage", TokenUsage(input=100, output=20))
    return SpendEvent(agent_id=agent_id, amount=amount, occurred_at=at, usage=usage, **fields)


def record_all(runtime: Runtime, events: list[SpendEvent], *, bulk: bool = False) -> None:
    """Through the normal path one by one, or through the bulk path (many rows per batch)."""
    if bulk:
        try:
            from spendwarden.ledger.bulk import record_batch
        except ImportError:  # the bulk path belongs to the ingest part
            record_batch = None
        if record_batch is not None:
            result = record_batch(runtime.ledger.core, events)
            assert not result.rejected, result.rejected
            return
    for e in events:
        runtime.ledger.record(e)


def ledger_rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.read() as conn:
        return [dict(r) for r in conn.execute(select(transactions)).mappings()]


def expected(rows: list[dict[str, Any]], lo: int, hi: int, key: str | None = None) -> dict[Any, list[int]]:
    """Net amount and row count per key (or in total) for rows that occurred in [lo, hi)."""
    out: dict[Any, list[int]] = {}
    for r in rows:
        if lo <= r["occurred_at"] < hi:
            k = "" if key is None else (r[key] or "")
            acc = out.setdefault(k, [0, 0])
            acc[0] += counter_delta(r["status"], r["amount"])
            acc[1] += 1
    return out


def usd(micros: int) -> str:
    from spendwarden.money import format_amount

    return format_amount(micros)


def us(at: datetime) -> int:
    return to_us(at)
