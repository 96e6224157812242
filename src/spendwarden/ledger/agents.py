"""Admin actions on agents: create, change, keys, halt, resume, revoke — each audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from spendwarden.clock import iso, to_us
from spendwarden.db import queries as q
from spendwarden.errors import AgentExists, AgentNotFound, InvalidState, NotFound, ValidationFailed
from spendwarden.ids import new_id
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.chain import GENESIS
from spendwarden.ledger.context import Emitted, LedgerCore, TxContext
from spendwarden.ledger.keys import hash_secret, key_prefix, new_agent_key
from spendwarden.ledger.record import halt_agent
from spendwarden.ledger.render import agent_public
from spendwarden.ledger.tiers import TIERS, preset_caps, preset_halt_rules
from spendwarden.ledger.types import AGENT_ID_RE, Agent
from spendwarden.ledger.unit import agent_unit

UNSET: Any = object()


@dataclass
class AgentSpec:
    """What a person asks for; caps and halt rules start from the tier preset."""

    id: str
    name: str | None = None
    owner: str = ""
    tier: str = "experimental"
    caps: dict[str, int | None] = field(default_factory=dict)
    halt_rules: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, list[str]] = field(default_factory=dict)
    active_hours: dict[str, Any] | None = None
    task_scope: dict[str, Any] | None = None
    silence_minutes: int = 15
    labels: dict[str, str] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply overrides to a preset; an override of ``None`` removes the entry."""
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def create_agent(core: LedgerCore, spec: AgentSpec, *, actor: str) -> tuple[dict[str, Any], str]:
    """Create the agent, its state row and its first key; the key is returned only here."""
    if not AGENT_ID_RE.match(spec.id):
        raise ValidationFailed("id must be 1-64 characters of a-z, 0-9, '_', '.', '-'.", field="id")
    if spec.tier not in TIERS:
        raise ValidationFailed(f"tier must be one of {', '.join(TIERS)}.", field="tier")
    now_us = to_us(core.clock.now())
    agent = Agent(
        id=spec.id,
        name=spec.name or spec.id,
        owner=spec.owner,
        tier=spec.tier,
        status="active",
        status_reason=None,
        caps=merged(preset_caps(spec.tier), spec.caps),
        halt_rules=merged(preset_halt_rules(spec.tier), spec.halt_rules),
        policy=spec.policy,
        active_hours=spec.active_hours,
        task_scope=spec.task_scope,
        silence_minutes=spec.silence_minutes,
        labels=spec.labels,
        signals=spec.signals,
        created_at=now_us,
        updated_at=now_us,
    )
    secret = new_agent_key()
    try:
        with core.store.write() as conn:
            if q.get_agent(conn, spec.id) is not None:
                raise AgentExists(agent_id=spec.id)
            q.insert_agent(conn, agent.to_row())
            q.insert_state(
                conn,
                {
                    "agent_id": agent.id,
                    "seq": 0,
                    "head_id": None,
                    "head_hash": GENESIS,
                    "held": 0,
                    "updated_at": now_us,
                },
            )
            key_row = _key_row(agent.id, secret, now_us, "initial")
            q.insert_key(conn, key_row)
            public = agent_public(agent)
            append_audit(
                conn,
                postgres=core.store.is_postgres,
                actor=actor,
                action="agent.created",
                target_type="agent",
                target_id=agent.id,
                at=now_us,
                after=public,
            )
            append_audit(
                conn,
                postgres=core.store.is_postgres,
                actor=actor,
                action="key.issued",
                target_type="agent",
                target_id=agent.id,
                at=now_us,
                after={"key_id": key_row["id"], "prefix": key_row["prefix"]},
            )
            created = [Emitted("agent", "agent.created", {"agent_id": agent.id, **public})]
            core.stage(conn, created)
    except IntegrityError:
        raise AgentExists(agent_id=spec.id) from None
    core.publish(created)
    return public, secret


def _key_row(agent_id: str, secret: str, now_us: int, label: str | None) -> dict[str, Any]:
    return {
        "id": new_id("key_"),
        "agent_id": agent_id,
        "key_hash": hash_secret(secret),
        "prefix": key_prefix(secret),
        "label": label,
        "created_at": now_us,
        "revoked_at": None,
    }


UPDATABLE = (
    "name",
    "owner",
    "tier",
    "policy",
    "active_hours",
    "task_scope",
    "silence_minutes",
    "labels",
    "signals",
)


def update_agent(
    core: LedgerCore, agent_id: str, changes: dict[str, Any], *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Patch settings; ``caps`` and ``halt_rules`` merge (``None`` removes a cap)."""
    with agent_unit(core, agent_id) as ctx:
        agent = ctx.agent
        before = agent_public(agent)
        if "tier" in changes and changes["tier"] not in TIERS:
            raise ValidationFailed(f"tier must be one of {', '.join(TIERS)}.", field="tier")
        for name in UPDATABLE:
            if name in changes:
                setattr(agent, name, changes[name])
        if "caps" in changes:
            agent.caps = merged(agent.caps, changes["caps"])
        if "halt_rules" in changes:
            agent.halt_rules = merged(agent.halt_rules, changes["halt_rules"])
        agent.updated_at = ctx.now_us
        row = agent.to_row()
        q.update_agent(ctx.conn, agent_id, {k: v for k, v in row.items() if k not in ("id", "created_at")})
        after = agent_public(agent)
        _audit(ctx, actor, "agent.updated", reason, before, after)
        ctx.emit("agent", "agent.updated", after)
    return after


def _audit(ctx: TxContext, actor: str, action: str, reason: str | None, before: Any, after: Any) -> None:
    append_audit(
        ctx.conn,
        postgres=ctx.store.is_postgres,
        actor=actor,
        action=action,
        target_type="agent",
        target_id=ctx.agent.id,
        at=ctx.now_us,
        reason=reason,
        before=before,
        after=after,
    )


def issue_key(
    core: LedgerCore, agent_id: str, *, actor: str, label: str | None = None
) -> tuple[dict[str, Any], str]:
    with agent_unit(core, agent_id) as ctx:
        if ctx.agent.status == "revoked":
            raise InvalidState("A revoked agent cannot get new keys.", status="revoked")
        secret = new_agent_key()
        row = _key_row(agent_id, secret, ctx.now_us, label)
        q.insert_key(ctx.conn, row)
        _audit(ctx, actor, "key.issued", None, None, {"key_id": row["id"], "prefix": row["prefix"]})
    return key_public(row), secret


def key_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "prefix": row["prefix"],
        "label": row.get("label"),
        "created_at": iso(row["created_at"]),
        "revoked_at": iso(row.get("revoked_at")),
    }


def revoke_key(
    core: LedgerCore, agent_id: str, key_id: str, *, actor: str, reason: str | None
) -> dict[str, Any]:
    with agent_unit(core, agent_id) as ctx:
        row = q.get_key(ctx.conn, key_id)
        if row is None or row["agent_id"] != agent_id:
            raise NotFound("No such key.", key_id=key_id)
        if row["revoked_at"] is None:
            q.revoke_keys(ctx.conn, agent_id, ctx.now_us, key_id=key_id)
            row["revoked_at"] = ctx.now_us
            _audit(ctx, actor, "key.revoked", reason, {"key_id": key_id}, {"key_id": key_id, "revoked": True})
    return key_public(row)


def halt(core: LedgerCore, agent_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    with agent_unit(core, agent_id) as ctx:
        if ctx.agent.status == "revoked":
            raise InvalidState("The agent is revoked.", status="revoked")
        halt_agent(ctx, actor=actor, reason=reason)
        out = agent_public(ctx.agent)
    return out


def resume(core: LedgerCore, agent_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Only a person resumes a halted agent; automatic resets never do."""
    with agent_unit(core, agent_id) as ctx:
        agent = ctx.agent
        if agent.status == "revoked":
            raise InvalidState("A revoked agent cannot be resumed.", status="revoked")
        if agent.status == "halted":
            before = {"status": agent.status, "status_reason": agent.status_reason}
            agent.status, agent.status_reason, agent.updated_at = "active", None, ctx.now_us
            q.update_agent(
                ctx.conn, agent_id, {"status": "active", "status_reason": None, "updated_at": ctx.now_us}
            )
            _audit(ctx, actor, "agent.resumed", reason, before, {"status": "active"})
            ctx.emit(
                "agent",
                "agent.resumed",
                {"agent_id": agent_id, "status": "active", "reason": reason, "actor": actor},
            )
        out = agent_public(agent)
    return out


def revoke(core: LedgerCore, agent_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Revoke the agent and every key it holds; the very next request with any of them is refused."""
    with agent_unit(core, agent_id) as ctx:
        agent = ctx.agent
        before = {"status": agent.status}
        keys = q.revoke_keys(ctx.conn, agent_id, ctx.now_us)
        if agent.status != "revoked":
            agent.status, agent.status_reason, agent.updated_at = "revoked", reason, ctx.now_us
            q.update_agent(
                ctx.conn, agent_id, {"status": "revoked", "status_reason": reason, "updated_at": ctx.now_us}
            )
            _audit(ctx, actor, "agent.revoked", reason, before, {"status": "revoked", "keys_revoked": keys})
            ctx.emit(
                "agent",
                "agent.revoked",
                {"agent_id": agent_id, "status": "revoked", "reason": reason, "actor": actor},
            )
        out = agent_public(agent)
    return out


def require_agent(core: LedgerCore, agent_id: str) -> Agent:
    with core.store.read() as conn:
        row = q.get_agent(conn, agent_id)
    if row is None:
        raise AgentNotFound(agent_id=agent_id)
    return Agent.from_row(row)
