"""Admin tokens: created on first start (printed once, stored hashed) or taken from
``SPENDWARDEN_ADMIN_TOKEN``; also read-only ``viewer`` and per-source ``ingest`` tokens."""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.clock import to_us
from spendwarden.db import queries as q
from spendwarden.ids import new_id
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.keys import hash_secret, new_admin_token, new_token, same_hash

ROLES = ("admin", "viewer", "ingest")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an admin/viewer/ingest token, or one agent's key."""

    kind: str  # admin | viewer | ingest | agent
    agent_id: str | None = None
    token_id: str | None = None
    label: str | None = None

    @property
    def actor(self) -> str:
        if self.kind == "agent":
            return f"agent:{self.agent_id}"
        return f"{self.kind}:{self.label or self.token_id or 'env'}"


def ensure_admin_token(core: LedgerCore, env_token: str | None) -> str | None:
    """Return a freshly created admin token to print once, or None when one already exists."""
    if env_token:
        return None
    with core.store.write() as conn:
        if q.count_admin_tokens(conn) > 0:
            return None
        token = new_admin_token()
        _insert(core, conn, token, "admin", "bootstrap")
    return token


def create_token(core: LedgerCore, role: str, label: str, *, actor: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    token = new_admin_token() if role == "admin" else new_token(f"sw_{role}_")
    with core.store.write() as conn:
        _insert(core, conn, token, role, label)
        append_audit(
            conn,
            postgres=core.store.is_postgres,
            actor=actor,
            action="token.created",
            target_type="token",
            target_id=label,
            at=to_us(core.clock.now()),
            after={"role": role},
        )
    return token


def rotate_admin_token(core: LedgerCore, *, actor: str) -> str:
    """Revoke every admin token and create a new one (printed once)."""
    token = new_admin_token()
    now_us = to_us(core.clock.now())
    with core.store.write() as conn:
        revoked = q.revoke_admin_tokens(conn, now_us, "admin")
        _insert(core, conn, token, "admin", "rotated")
        append_audit(
            conn,
            postgres=core.store.is_postgres,
            actor=actor,
            action="token.rotated",
            target_type="token",
            target_id="admin",
            at=now_us,
            after={"revoked": revoked},
        )
    return token


def _insert(core: LedgerCore, conn: object, token: str, role: str, label: str) -> None:
    q.insert_admin_token(
        conn,  # type: ignore[arg-type]
        {
            "id": new_id("tok_"),
            "token_hash": hash_secret(token),
            "role": role,
            "label": label,
            "created_at": to_us(core.clock.now()),
            "revoked_at": None,
        },
    )


def env_token_principal(token: str, env_token: str | None) -> Principal | None:
    if env_token and same_hash(hash_secret(token), hash_secret(env_token)):
        return Principal(kind="admin", label="env")
    return None
