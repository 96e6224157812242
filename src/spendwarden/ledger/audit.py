"""The audit log: every admin action with actor, time, reason and before/after,
hash-chained like the ledger so an edited or deleted entry is detectable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spendwarden.db import queries as q
from spendwarden.ids import new_id
from spendwarden.ledger.chain import AUDIT_FIELDS, GENESIS, row_hash
from spendwarden.ledger.types import dumps

AUDIT_CHAIN = "audit"


def append_audit(
    conn: Connection,
    *,
    postgres: bool,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    at: int,
    reason: str | None = None,
    before: Any = None,
    after: Any = None,
) -> dict[str, Any]:
    """Append one entry at the head of the audit chain (call inside the action's transaction)."""
    head = q.lock_chain_head(conn, AUDIT_CHAIN, postgres)
    if head is None:
        head = {"name": AUDIT_CHAIN, "seq": 0, "head_id": None, "head_hash": GENESIS}
        q.insert_chain_head(conn, head)
    row: dict[str, Any] = {
        "id": new_id("aud_"),
        "seq": int(head["seq"]) + 1,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "reason": reason,
        "before": None if before is None else dumps(before),
        "after": None if after is None else dumps(after),
        "at": at,
        "prev_id": head["head_id"],
        "prev_hash": head["head_hash"],
    }
    row["hash"] = row_hash(row["prev_hash"], row, AUDIT_FIELDS)
    q.insert_audit(conn, row)
    q.update_chain_head(
        conn, AUDIT_CHAIN, {"seq": row["seq"], "head_id": row["id"], "head_hash": row["hash"]}
    )
    return row
