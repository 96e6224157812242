"""Sortable identifiers (ULIDs) and token generation."""

from __future__ import annotations

import secrets

from ulid import ULID


def new_id(prefix: str = "") -> str:
    """A ULID string, time-sortable, optionally prefixed (``txn_01J…``)."""
    return f"{prefix}{ULID()}"


def new_token(prefix: str) -> str:
    """A secret bearer token; the prefix tells a human what it is (``sk_agent_…``)."""
    return f"{prefix}{secrets.token_urlsafe(32)}"
