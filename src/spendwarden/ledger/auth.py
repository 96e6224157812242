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
    row = hot.find_key(dbapi, postgres, digest)
    if row is None or not same_hash(row["key_hash"], digest):
        raise Unauthenticated("Unknown API key.")
    if row["status"] == "revoked":
        raise AgentRevoked(agent_id=row["agent_id"])
    if row["revoked_at"] is not None:
        raise KeyRevoked(key_id=row["id"])
    return Principal(kind="agent", agent_id=row["agent_id"], token_id=row["id"])
