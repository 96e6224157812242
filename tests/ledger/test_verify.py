"""The tamper test: edit, insert and delete rows behind the ledger's back; verify names each."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from spendwarden.db.tables.core import audit_log, transactions
from spendwarden.events import SpendEvent
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.factories import make_agent


def _seed(runtime: Runtime, n: int = 6) -> list[str]:
    make_agent(runtime.ledger, "bot", daily="100")
    make_agent(runtime.ledger, "other", daily="100")
    ids = [
        runtime.ledger.record(SpendEvent(agent_id="bot", amount=usd("0.10") + i)).transaction["id"]
        for i in range(n)
    ]
    runtime.ledger.record(SpendEvent(agent_id="other", amount=usd("0.10")))
    return ids


def _kinds(report: dict[str, object]) -> set[tuple[str, str | None]]:
    return {(f["kind"], f["id"]) for f in report["findings"]}  # type: ignore[index, attr-defined]


def test_clean_ledger_verifies(runtime: Runtime) -> None:
    _seed(runtime)
    report = runtime.ledger.verify()
    assert report["ok"] and report["rows"] >= 7


def test_edited_row_is_named(runtime: Runtime) -> None:
    ids = _seed(runtime)
    with runtime.store.write() as conn:
        conn.execute(update(transactions).where(transactions.c.id == ids[2]).values(amount=1))
    report = runtime.ledger.verify()
    assert not report["ok"]
    assert ("edited", ids[2]) in _kinds(report)
    assert all(f["chain"] == "agent:bot" for f in report["findings"])


def test_deleted_rows_are_named_by_id_including_the_last(runtime: Runtime) -> None:
    ids = _seed(runtime)
    with runtime.store.write() as conn:
        conn.execute(delete(transactions).where(transactions.c.id.in_([ids[1], ids[-1]])))
    kinds = _kinds(runtime.ledger.verify())
    assert ("deleted", ids[1]) in kinds
    assert ("deleted", ids[-1]) in kinds


def test_inserted_rows_are_named(runtime: Runtime) -> None:
    ids = _seed(runtime)
    with runtime.store.write() as conn:
        row = dict(conn.execute(select(transactions).where(transactions.c.id == ids[3])).mappings().one())
        forged_mid = {**row, "id": "txn_FORGED_MID", "external_id": "forged-1"}
        forged_end = {**row, "id": "txn_FORGED_END", "seq": row["seq"] + 100, "external_id": "forged-2"}
        conn.execute(insert(transactions).values(**forged_mid))
        conn.execute(insert(transactions).values(**forged_end))
    kinds = _kinds(runtime.ledger.verify())
    assert ("inserted", "txn_FORGED_MID") in kinds
    assert ("inserted", "txn_FORGED_END") in kinds
    assert not any(k == "edited" for k, _ in kinds)


def test_audit_log_tampering_is_detected(runtime: Runtime) -> None:
    _seed(runtime)
    runtime.ledger.halt("bot", "ops", "checking")
    with runtime.store.write() as conn:
        first = conn.execute(select(audit_log.c.id).order_by(audit_log.c.seq)).scalars().first()
        conn.execute(update(audit_log).where(audit_log.c.id == first).values(reason="nothing to see"))
    report = runtime.ledger.verify()
    assert ("edited", first) in _kinds(report)
