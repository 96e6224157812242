"""The hash chain: ``hash = sha256(prev_hash ‖ canonical row)``.

Each agent's transactions (and the audit log) form a chain; every row also names the
id of the row before it, so a deleted row is reported by its id, not just as a gap.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

GENESIS = "0" * 64

# Fields covered by the hash: everything a row says, except the hash itself.
TXN_FIELDS = (
    "id", "agent_id", "seq", "amount", "original_amount", "original_currency", "rail", "vendor",
    "tool", "endpoint", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "kind", "status", "attempt", "task_id", "user_id",
    "counterparty_agent_id", "description", "metadata", "source", "external_id", "occurred_at",
    "recorded_at", "price_version", "hold_id", "prev_id",
)  # fmt: skip
# Every column of a ledger row, in table order (the bulk insert writes exactly these).
TXN_COLUMNS = (*TXN_FIELDS, "prev_hash", "hash")
# Position of each column in a row tuple (the bulk path carries rows as tuples).
TXN_INDEX = {name: i for i, name in enumerate(TXN_COLUMNS)}
AUDIT_FIELDS = (
    "id", "seq", "actor", "action", "target_type", "target_id", "reason", "before", "after", "at",
    "prev_id",
)  # fmt: skip


def canonical(row: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    """Deterministic bytes for a row: the values of ``fields`` in that fixed order as a JSON
    array (ints, strings, nulls; JSON columns are hashed as the text stored). The bulk path
    serialises the tuple of those values directly: orjson writes a tuple as the same array."""
    return orjson.dumps([row.get(f) for f in fields])


def row_hash(prev_hash: str, row: dict[str, Any], fields: tuple[str, ...]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row, fields)).hexdigest()
