"""Domain types of the write path, parsed from and rendered to database rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

AGENT_ID_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")
STATUSES = ("active", "halted", "revoked")


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else orjson.loads(text)


def parse_caps(text: str | None) -> dict[str, int]:
    """An agent's ``caps`` column: cap name -> limit in micro-dollars."""
    return {k: int(v) for k, v in loads(text, {}).items()}


@dataclass
class Agent:
    """An agent's configuration and status (its money lives in counters and the ledger)."""

    id: str
    name: str
    owner: str
    tier: str
    status: str
    status_reason: str | None
    caps: dict[str, int]
    halt_rules: dict[str, Any]
    policy: dict[str, list[str]]
    active_hours: dict[str, Any] | None
    task_scope: dict[str, Any] | None
    silence_minutes: int
    labels: dict[str, str]
    signals: dict[str, Any]
    created_at: int
    updated_at: int
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Agent:
        return cls(
            id=row["id"],
            name=row["name"],
            owner=row["owner"],
            tier=row["tier"],
            status=row["status"],
            status_reason=row["status_reason"],
            caps=parse_caps(row["caps"]),
            halt_rules=loads(row["halt_rules"], {}),
            policy=loads(row["policy"], {}),
            active_hours=loads(row["active_hours"]),
            task_scope=loads(row["task_scope"]),
            silence_minutes=int(row["silence_minutes"]),
            labels=loads(row["labels"], {}),
            signals=loads(row["signals"], {}),
            created_at=int(row["created_at"]),
            updated_at=int(row["updated_at"]),
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "tier": self.tier,
            "status": self.status,
            "status_reason": self.status_reason,
            "caps": dumps(self.caps),
            "halt_rules": dumps(self.halt_rules),
            "policy": dumps(self.policy),
            "active_hours": None if self.active_hours is None else dumps(self.active_hours),
            "task_scope": None if self.task_scope is None else dumps(self.task_scope),
            "silence_minutes": self.silence_minutes,
            "labels": dumps(self.labels),
            "signals": dumps(self.signals),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class AuthorizeRequest:
    """What an authorization asks for. Not frozen, though nothing changes one: a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``, three times
    the cost, and one is built for every authorization."""

    amount: int
    vendor: str | None = None
    rail: str | None = None
    tool: str | None = None
    model: str | None = None
    endpoint: str | None = None
    task_id: str | None = None
    user_id: str | None = None
    kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ttl_seconds: int | None = None
