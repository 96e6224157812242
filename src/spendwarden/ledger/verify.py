"""Verify the hash chains and name every edited, inserted or deleted row.

Walk each chain in sequence order. A row whose hash does not match its content was
edited; a missing sequence number is a deletion, named by the id the next row points
back to (or the recorded head, for the last row); an extra row at a sequence number, or
one past the recorded head, was inserted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spendwarden.ledger.chain import GENESIS, row_hash


@dataclass
class Finding:
    kind: str  # edited | inserted | deleted | broken_link
    chain: str
    id: str | None
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chain": self.chain, "id": self.id, "seq": self.seq, "detail": self.detail}


@dataclass
class ChainReport:
    chain: str
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class ChainStart:
    """Where verification starts: genesis, or the checkpoint left by pruning."""

    seq: int = 0
    head_id: str | None = None
    head_hash: str = GENESIS


@dataclass(frozen=True)
class ChainHead:
    """What the state row says the chain's newest row is."""

    seq: int
    head_id: str | None
    head_hash: str


def verify_chain(
    chain: str,
    rows: Iterable[dict[str, Any]],
    fields: tuple[str, ...],
    *,
    start: ChainStart,
    head: ChainHead | None,
) -> ChainReport:
    report = ChainReport(chain=chain)
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        report.rows += 1
        by_seq.setdefault(int(row["seq"]), []).append(row)
    prev_id, prev_hash = start.head_id, start.head_hash
    last_seq = head.seq if head is not None else max(by_seq, default=start.seq)
    for seq in range(start.seq + 1, max(last_seq, max(by_seq, default=0)) + 1):
        candidates = by_seq.get(seq, [])
        if seq > last_seq:
            for extra in candidates:
                report.findings.append(
                    Finding("inserted", chain, extra["id"], seq, "row past the chain head")
                )
            continue
        if not candidates:
            nxt = by_seq.get(seq + 1, [])
            missing = nxt[0].get("prev_id") if nxt else (head.head_id if head and seq == head.seq else None)
            report.findings.append(Finding("deleted", chain, missing, seq, "row missing from the chain"))
            prev_id, prev_hash = missing, None  # type: ignore[assignment]
            continue
        genuine = _pick_genuine(candidates, prev_hash, fields)
        for other in candidates:
            if other is not genuine:
                report.findings.append(
                    Finding("inserted", chain, other["id"], seq, "duplicate sequence number")
                )
        row = genuine
        if row_hash(row["prev_hash"], row, fields) != row["hash"]:
            report.findings.append(
                Finding("edited", chain, row["id"], seq, "content does not match its hash")
            )
        elif prev_hash is not None and (row["prev_hash"] != prev_hash or row.get("prev_id") != prev_id):
            report.findings.append(
                Finding("broken_link", chain, row["id"], seq, "does not point to the previous row")
            )
        prev_id, prev_hash = row["id"], row["hash"]
    if head is not None and prev_hash is not None and head.seq == last_seq and prev_hash != head.head_hash:
        report.findings.append(Finding("edited", chain, prev_id, last_seq, "chain head does not match"))
    return report


def _pick_genuine(
    candidates: list[dict[str, Any]], prev_hash: str | None, fields: tuple[str, ...]
) -> dict[str, Any]:
    """Among rows sharing a sequence number, the one that links and hashes correctly."""
    if len(candidates) == 1:
        return candidates[0]
    for row in candidates:
        if (prev_hash is None or row["prev_hash"] == prev_hash) and row_hash(
            row["prev_hash"], row, fields
        ) == row["hash"]:
            return row
    return candidates[0]
