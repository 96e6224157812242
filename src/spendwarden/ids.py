"""Sortable identifiers (ULIDs) and token generation.

ULIDs are generated here rather than with the ``ulid`` package because the bulk path makes
one per ledger row: 48 bits of milliseconds and 80 random bits, Crockford base32, strictly
increasing within a process (a clash inside one millisecond increments the random part).
"""

from __future__ import annotations

import os
import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two base32 digits per lookup: 13 lookups encode the 130 bits of a 26-character ULID.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_lock = threading.Lock()
_last = 0


def _next_value() -> int:
    global _last
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    return value


def encode_ulid(value: int) -> str:
    """26 Crockford base32 characters, two per lookup, unrolled (a loop cost twice as much,
    and ``base64.b32encode`` is pure Python)."""
    p, v = _PAIRS, value
    return "".join((
        p[v >> 120 & 1023], p[v >> 110 & 1023], p[v >> 100 & 1023], p[v >> 90 & 1023],
        p[v >> 80 & 1023], p[v >> 70 & 1023], p[v >> 60 & 1023], p[v >> 50 & 1023],
        p[v >> 40 & 1023], p[v >> 30 & 1023], p[v >> 20 & 1023], p[v >> 10 & 1023], p[v & 1023],
    ))  # fmt: skip


def new_id(prefix: str = "") -> str:
    """A ULID string, time-sortable, optionally prefixed (``txn_01J…``)."""
    return prefix + encode_ulid(_next_value())


def new_token(prefix: str) -> str:
    """A secret bearer token; the prefix tells a human what it is (``sk_agent_…``)."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def new_ids(prefix: str, n: int) -> list[str]:
    """``n`` consecutive ULIDs at once (the bulk path): one clock read and one random draw,
    then +1 per id, as ULID's monotonic mode does inside one millisecond. Only the last 30
    bits are encoded per id; the 20 leading characters are re-encoded when they change."""
    global _last
    if n <= 0:
        return []
    first = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if first <= _last:
            first = _last + 1
        _last = first + n - 1
    pairs = _PAIRS
    out: list[str] = []
    head_of, head = -1, ""
    for value in range(first, first + n):
        high = value >> 30
        if high != head_of:
            head_of, head = high, prefix + encode_ulid(high)[6:]
        out.append(head + pairs[(value >> 20) & 1023] + pairs[(value >> 10) & 1023] + pairs[value & 1023])
    return out
