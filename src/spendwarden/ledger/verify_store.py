"""Run chain verification over the database: every agent's ledger chain and the audit log."""

from __future__ import annotations

from typing import Any

from spendwarden.db import queries as q
from spendwarden.db.store import Store
from spendwarden.ledger.audit import AUDIT_CHAIN
from spendwarden.ledger.chain import AUDIT_FIELDS, TXN_FIELDS
from spendwarden.ledger.verify import ChainHead, ChainReport, ChainStart, verify_chain


def verify_ledger(store: Store, agent_id: str | None = None) -> dict[str, Any]:
    """Verify chains; the report names every edited, inserted or deleted row by id."""
    reports: list[ChainReport] = []
    with store.read() as conn:
        agent_ids = [agent_id] if agent_id else q.chain_agent_ids(conn)
        for aid in agent_ids:
            state = q.get_state(conn, aid)
            head = (
                None if state is None else ChainHead(int(state["seq"]), state["head_id"], state["head_hash"])
            )
            cp = q.get_checkpoint(conn, aid)
            start = ChainStart() if cp is None else ChainStart(int(cp["seq"]), cp["head_id"], cp["head_hash"])
            rows = (r for r in q.chain_rows(conn, aid) if int(r["seq"]) > start.seq)
            reports.append(verify_chain(f"agent:{aid}", rows, TXN_FIELDS, start=start, head=head))
        if agent_id is None:
            reports.append(_verify_audit(conn))
    findings = [f.to_dict() for r in reports for f in r.findings]
    return {
        "ok": not findings,
        "chains": len(reports),
        "rows": sum(r.rows for r in reports),
        "findings": findings,
    }


def _verify_audit(conn: Any) -> ChainReport:
    head_row = q.lock_chain_head(conn, AUDIT_CHAIN, postgres=False)
    head = (
        None
        if head_row is None
        else ChainHead(int(head_row["seq"]), head_row["head_id"], head_row["head_hash"])
    )
    return verify_chain("audit", q.audit_rows(conn), AUDIT_FIELDS, start=ChainStart(), head=head)
