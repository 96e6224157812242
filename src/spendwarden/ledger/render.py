"""Rows to API shapes: amounts as decimal strings, times as ISO-8601 UTC."""

from __future__ import annotations

from typing import Any

from spendwarden.clock import iso
from spendwarden.ledger.types import Agent, loads
from spendwarden.money import format_amount


def money_map(values: dict[str, int]) -> dict[str, str]:
    return {k: format_amount(v) for k, v in values.items()}


def transaction_public(row: dict[str, Any]) -> dict[str, Any]:
    usage = None
    if row.get("input_tokens") is not None or row.get("output_tokens") is not None:
        usage = {
            "input_tokens": row.get("input_tokens") or 0,
            "output_tokens": row.get("output_tokens") or 0,
            "cache_read_tokens": row.get("cache_read_tokens") or 0,
            "cache_write_tokens": row.get("cache_write_tokens") or 0,
        }
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "seq": row["seq"],
        "amount_usd": format_amount(row["amount"]),
        "original_amount": row.get("original_amount"),
        "original_currency": row.get("original_currency"),
        "rail": row["rail"],
        "vendor": row.get("vendor"),
        "tool": row.get("tool"),
        "endpoint": row.get("endpoint"),
        "model": row.get("model"),
        "usage": usage,
        "kind": row["kind"],
        "status": row["status"],
        "attempt": row["attempt"],
        "task_id": row.get("task_id"),
        "user_id": row.get("user_id"),
        "counterparty_agent_id": row.get("counterparty_agent_id"),
        "description": row.get("description"),
        "metadata": loads(row.get("metadata"), {}),
        "source": row["source"],
        "external_id": row.get("external_id"),
        "occurred_at": iso(row["occurred_at"]),
        "recorded_at": iso(row["recorded_at"]),
        "price_version": row.get("price_version"),
        "hold_id": row.get("hold_id"),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


def agent_public(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "owner": agent.owner,
        "tier": agent.tier,
        "status": agent.status,
        "status_reason": agent.status_reason,
        "caps": money_map(agent.caps),
        "halt_rules": {
            k: (
                format_amount(v) if k in ("max_single_charge", "min_hourly_baseline") and v is not None else v
            )
            for k, v in agent.halt_rules.items()
        },
        "policy": agent.policy,
        "active_hours": agent.active_hours,
        "task_scope": agent.task_scope,
        "silence_minutes": agent.silence_minutes,
        "labels": agent.labels,
        "signals": agent.signals,
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
    }


def hold_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "amount_usd": format_amount(row["amount"]),
        "status": row["status"],
        "vendor": row.get("vendor"),
        "rail": row.get("rail"),
        "tool": row.get("tool"),
        "model": row.get("model"),
        "task_id": row.get("task_id"),
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
        "closed_at": iso(row.get("closed_at")),
        "transaction_id": row.get("transaction_id"),
    }
