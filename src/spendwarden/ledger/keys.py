"""Bearer secrets: shown once, stored as SHA-256, compared in constant time.

Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching
needed) and lets the server find a key by its hash with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac

from spendwarden.ids import new_token

__all__ = ["hash_secret", "key_prefix", "new_admin_token", "new_agent_key", "new_token", "same_hash"]

AGENT_KEY_PREFIX = "sw_agent_"
ADMIN_TOKEN_PREFIX = "sw_admin_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_agent_key() -> str:
    return new_token(AGENT_KEY_PREFIX)


def new_admin_token() -> str:
    return new_token(ADMIN_TOKEN_PREFIX)


def key_prefix(secret: str) -> str:
    """The part of a key safe to show in lists and logs."""
    return secret[: len(AGENT_KEY_PREFIX) + 6]
