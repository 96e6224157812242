"""Billing reports per owner (client) and agent that reconcile exactly with the ledger.

A report reads raw ledger rows — it must trace to them — for ``[from, to)`` by
``occurred_at``. One line per owner x agent x vendor x model x rail, with net amount
(settled - refunded, the ledger's own rule), gross settled, refunded, row count and the
ids of every transaction in it (JSON ``transaction_ids``; CSV a space-separated column),
plus first/last id and sequence numbers so a line can be found in ``/v1/transactions``
or in the hash chain. ``reconciliation`` re-sums the ledger independently in SQL and
states whether the lines match.

Periods already pruned by retention come from ``billing_archive`` as lines with
``source: "archive"``: their sequence range ends at or before the agent's chain
checkpoint, which ``verify`` proves. Such lines cover whole UTC days, so a report that
reaches into a pruned period must start and end on a day boundary there.

Owner is the agent's current owner (transactions do not carry one).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection

from spendwarden.analytics.rollup import DAY_US
from spendwarden.analytics.summary import snapshot
from spendwarden.clock import iso
from spendwarden.db import queries_analytics as qa
from spendwarden.db.store import Store
from spendwarden.errors import ValidationFailed
from spendwarden.money import format_amount

CSV_COLUMNS = (
    "owner",
    "agent_id",
    "vendor",
    "model",
    "rail",
    "source",
    "count",
    "settled_usd",
    "refunded_usd",
    "amount_usd",
    "first_transaction_id",
    "last_transaction_id",
    "first_seq",
    "last_seq",
    "transaction_ids",
)
LineKey = tuple[str, str, str, str, str]


def billing_report(
    store: Store, *, owner: str | None, agent_id: str | None, start_us: int, end_us: int
) -> dict[str, Any]:
    if start_us >= end_us:
        raise ValidationFailed("from must be before to.")
    with snapshot(store) as conn:
        owners = qa.agent_owners(conn, owner, agent_id)
        ids = list(owners)
        lines = _ledger_lines(conn, owners, start_us, end_us) + _archive_lines(conn, owners, start_us, end_us)
        ledger_total, ledger_count = qa.ledger_net(conn, ids, start_us, end_us)
    archived = sum(line["_amount"] for line in lines if line["source"] == "archive")
    archived_count = sum(line["count"] for line in lines if line["source"] == "archive")
    total = sum(line["_amount"] for line in lines)
    count = sum(line["count"] for line in lines)
    lines.sort(
        key=lambda x: (x["owner"], x["agent_id"], x["vendor"] or "", x["model"] or "", x["rail"], x["source"])
    )
    return {
        "from": iso(start_us),
        "to": iso(end_us),
        "filters": {"owner": owner, "agent_id": agent_id},
        "lines": [{k: v for k, v in line.items() if not k.startswith("_")} for line in lines],
        "totals": _totals(lines, total, count),
        "reconciliation": {
            "ledger_amount_usd": format_amount(ledger_total + archived),
            "ledger_count": ledger_count + archived_count,
            "lines_amount_usd": format_amount(total),
            "lines_count": count,
            "matches": ledger_total + archived == total and ledger_count + archived_count == count,
        },
    }


def _ledger_lines(
    conn: Connection, owners: dict[str, str], start_us: int, end_us: int
) -> list[dict[str, Any]]:
    acc: dict[LineKey, dict[str, Any]] = {}
    for r in qa.billing_rows(conn, list(owners), start_us, end_us):
        key = (owners[r["agent_id"]], r["agent_id"], r["vendor"] or "", r["model"] or "", r["rail"])
        line = acc.get(key)
        if line is None:
            line = acc[key] = {"settled": 0, "refunded": 0, "ids": [], "first_seq": r["seq"]}
        amount = int(r["amount"])
        if r["status"] == "settled":
            line["settled"] += amount
        elif r["status"] == "refunded":
            line["refunded"] += amount
        line["ids"].append(r["id"])
        line["last_seq"] = r["seq"]
    return [
        _line(key, v["settled"], v["refunded"], v["ids"], v["first_seq"], v["last_seq"], start_us, end_us)
        for key, v in acc.items()
    ]


def _line(
    key: LineKey, settled: int, refunded: int, ids: list[str], first_seq: int, last_seq: int, lo: int, hi: int
) -> dict[str, Any]:
    owner, agent_id, vendor, model, rail = key
    query = {"agent_id": agent_id, "rail": rail, "since": iso(lo), "until": iso(hi)}
    query.update({k: v for k, v in (("vendor", vendor), ("model", model)) if v})
    return {
        "owner": owner,
        "agent_id": agent_id,
        "vendor": vendor or None,
        "model": model or None,
        "rail": rail,
        "source": "ledger",
        "count": len(ids),
        "settled_usd": format_amount(settled),
        "refunded_usd": format_amount(refunded),
        "amount_usd": format_amount(settled - refunded),
        "first_transaction_id": ids[0],
        "last_transaction_id": ids[-1],
        "first_seq": first_seq,
        "last_seq": last_seq,
        "transaction_ids": ids,
        "transactions_url": "/v1/transactions?" + urlencode(query),
        "_amount": settled - refunded,
    }


def _archive_lines(
    conn: Connection, owners: dict[str, str], start_us: int, end_us: int
) -> list[dict[str, Any]]:
    rows = qa.archive_rows(conn, list(owners), start_us - start_us % DAY_US, end_us)
    acc: dict[LineKey, dict[str, Any]] = {}
    for r in rows:
        day = int(r["day_us"])
        if day < start_us or day + DAY_US > end_us:
            raise ValidationFailed(
                "This range reaches into a pruned period; start and end it on a UTC day boundary there.",
                pruned_day=iso(day),
            )
        key = (owners[r["agent_id"]], r["agent_id"], r["vendor"], r["model"], r["rail"])
        line = acc.setdefault(key, {"settled": 0, "refunded": 0, "count": 0, "first": r, "last": r})
        line["settled"] += int(r["settled_amount"])
        line["refunded"] += int(r["refunded_amount"])
        line["count"] += int(r["count"])
        line["first"] = min(line["first"], r, key=lambda x: int(x["first_seq"]))
        line["last"] = max(line["last"], r, key=lambda x: int(x["last_seq"]))
    out = []
    for (owner, agent_id, vendor, model, rail), v in acc.items():
        net = v["settled"] - v["refunded"]
        out.append(
            {
                "owner": owner,
                "agent_id": agent_id,
                "vendor": vendor or None,
                "model": model or None,
                "rail": rail,
                "source": "archive",
                "count": v["count"],
                "settled_usd": format_amount(v["settled"]),
                "refunded_usd": format_amount(v["refunded"]),
                "amount_usd": format_amount(net),
                "first_transaction_id": v["first"]["first_id"],
                "last_transaction_id": v["last"]["last_id"],
                "first_seq": int(v["first"]["first_seq"]),
                "last_seq": int(v["last"]["last_seq"]),
                "transaction_ids": None,
                "transactions_url": None,
                "note": "pruned by retention; the sequence range is proven by the chain checkpoint",
                "_amount": net,
            }
        )
    return out


def _totals(lines: list[dict[str, Any]], total: int, count: int) -> dict[str, Any]:
    by_owner: dict[str, int] = {}
    by_agent: dict[str, int] = {}
    for line in lines:
        by_owner[line["owner"]] = by_owner.get(line["owner"], 0) + line["_amount"]
        by_agent[line["agent_id"]] = by_agent.get(line["agent_id"], 0) + line["_amount"]
    return {
        "amount_usd": format_amount(total),
        "count": count,
        "by_owner": {k: format_amount(v) for k, v in sorted(by_owner.items())},
        "by_agent": {k: format_amount(v) for k, v in sorted(by_agent.items())},
    }


def to_csv(report: dict[str, Any]) -> str:
    """The report's lines as CSV, closed by a TOTAL row (amounts as decimal strings)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in report["lines"]:
        row = {**line, "transaction_ids": " ".join(line["transaction_ids"] or [])}
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    totals = report["totals"]
    writer.writerow(
        ["TOTAL", "", "", "", "", "total", totals["count"], "", "", totals["amount_usd"], "", "", "", "", ""]
    )
    return out.getvalue()
