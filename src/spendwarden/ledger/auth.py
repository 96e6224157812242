"""Resolving a bearer token to a principal. Runs on every request, so it is one indexed
lookup by hash and never cached: a revoked key fails on the very next request, on every
replica sharing the database."""

from __future__ import annotations

from typing import Any

from spendwarden.db import hot
from spendwarden.errors import AgentRevoked, KeyRevoked, Unauthenticated
from spendwarden.ledger.admin import Principal, env_token_principal
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.keys import AGENT_KEY_PREFIX, hash_secret, same_hash


def authenticate(core: LedgerCore, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated()
    from_env = env_token_principal(token, core.settings.admin_token)
    if from_env is not None:
        return from_env
    digest = hash_secret(token)
    postgres = core.store.is_postgres
    with core.store.hot_read() as dbapi:
        if token.startswith(AGENT_KEY_PREFIX):
            return _agent_principal(dbapi, postgres, digest)
        row = hot.find_admin_token(dbapi, postgres, digest)
    if row is None or not same_hash(row["token_hash"], digest):
        raise Unauthenticated("Unknown token.")
    if row["revoked_at"] is not None:
        raise KeyRevoked("This token has been revoked.")
    return Principal(kind=row["role"], token_id=row["id"], label=row["label"])


def _agent_principal(dbapi: Any, postgres: bool, digest: str) -> Principal:
    return agent_principal(hot.find_key(dbapi, postgres, digest), digest)


def agent_principal(row: dict[str, Any] | None, digest: str) -> Principal:
    """The agent key's principal from its row (``hot.find_key``), or the error it earns."""
    if row is None or not same_hash(row["key_hash"], digest):
        raise Unauthenticated("Unknown API key.")
    if row["status"] == "revoked":
        raise AgentRevoked(agent_id=row["agent_id"])
    if row["revoked_at"] is not None:
        raise KeyRevoked(key_id=row["id"])
    return Principal(kind="agent", agent_id=row["agent_id"], token_id=row["id"])


async def authenticate_agent_async(core: LedgerCore, conn: Any, token: str, digest: str) -> Principal | None:
    """``authenticate`` for an agent key, on a connection of the event loop's own pool
    (``db.pg_authorize.AsyncConnections``); None for any other token (the blocking path
    answers those). ``digest``: ``hash_secret(token)``, which the caller already has. The
    agent's configuration read with the key is remembered for ``spendwarden_authorize``
    (``KnownAgents``, which it never trusts blindly)."""
    if not token.startswith(AGENT_KEY_PREFIX) or env_token_principal(token, core.settings.admin_token):
        return None
    row = await conn.fetchrow(hot.FIND_KEY_NUMBERED, digest)
    principal = agent_principal(None if row is None else dict(row), digest)
    if principal.agent_id not in core.known_agents:  # the row has it: no read of its own later
        core.known_agents.put(row["agent_id"], row["caps"], row["policy"])
    return principal
