"""Idempotency keys: a repeated request returns the first result and writes nothing new;
the same key with a different body is a conflict (409)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection

from spendwarden.db import queries as q
from spendwarden.errors import IdempotencyConflict
from spendwarden.ledger.types import dumps, loads


def request_fingerprint(action: str, body: Any, key: str | None) -> str:
    """A stable hash of what was asked, so a retry can be told from a different request
    (only needed, so only computed, when the request carries an idempotency key)."""
    if key is None:
        return ""
    payload = orjson.dumps({"action": action, "body": body}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(payload).hexdigest()


def replay(conn: Connection, principal: str, key: str | None, fingerprint: str) -> dict[str, Any] | None:
    """The stored response for this key, or None when the key is new."""
    if key is None:
        return None
    found = q.get_idempotent(conn, principal, key)
    if found is None:
        return None
    if found["request_hash"] != fingerprint:
        raise IdempotencyConflict(idempotency_key=key)
    body: dict[str, Any] = loads(found["response"])
    return body


def remember(
    conn: Connection, principal: str, key: str | None, fingerprint: str, body: dict[str, Any], at: int
) -> None:
    if key is None:
        return
    q.put_idempotent(
        conn,
        {
            "principal": principal,
            "key": key,
            "request_hash": fingerprint,
            "status_code": 200,
            "response": dumps(body),
            "created_at": at,
        },
    )
