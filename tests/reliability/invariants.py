"""What must hold in the database after any crash, checked straight on the tables.

``Acks`` is what clients were told succeeded; ``check_all`` proves each of those is in the
ledger exactly once, that held money equals the open holds, that every spend counter
equals the sum of its ledger rows, and that no cap was overrun.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from spendwarden.clock import from_us
from spendwarden.db.tables.core import agent_state, agents, holds, spend_counters, transactions
from spendwarden.ledger.record import counter_delta
from spendwarden.ledger.windows import window_keys
from spendwarden.runtime import Runtime


@dataclass
class Acks:
    """Everything a client saw acknowledged (2xx with the id in the body)."""

    holds: set[str] = field(default_factory=set)
    settles: dict[str, str] = field(default_factory=dict)  # hold id -> transaction id
    voids: dict[str, str] = field(default_factory=dict)  # hold id -> status answered (voided|expired)
    external_ids: set[tuple[str, str]] = field(default_factory=set)  # (source, external_id)
    transport_errors: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    codes: Counter[int] = field(default_factory=Counter)  # every answer's status code
    answered: Counter[str] = field(default_factory=Counter)  # 2xx per server URL
    failed_over: Counter[str] = field(default_factory=Counter)  # per kind: answered by another URL
    # Holds answered to an authorize that had died with its connection first, with the time
    # (µs) the client saw it die: a hold created before then is the original answer replayed.
    retried_holds: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return len(self.holds) + len(self.settles) + len(self.voids) + len(self.external_ids)

    def figures(self) -> dict[str, object]:
        """What the run's figures line says about the load (tests print and keep it)."""
        return {
            "acknowledged": {
                "authorizations": len(self.holds),
                "settlements": len(self.settles),
                "voids": len(self.voids),
                "recorded_and_ingested": len(self.external_ids),
            },
            "transport_errors_retried": self.transport_errors,
            "refusals": dict(self.refusals),
        }


def assert_nothing_held(conn: Connection) -> None:
    """Once every hold has closed: no agent holds money, no task counter reserves any."""
    assert all(v == (0, 0) for v in held_matches_open_holds(conn).values())
    task_held = conn.execute(select(spend_counters.c.held).where(spend_counters.c.held != 0)).all()
    assert not task_held, "per-task holds leaked"


def record_figures(path: Path, line: dict[str, object]) -> None:
    """Print a run's figures and append them to ``path`` (docs/RELIABILITY.md quotes them)."""
    print(json.dumps(line))
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")


def check_acknowledged(conn: Connection, acks: Acks) -> None:
    hold_rows = {r.id: r for r in conn.execute(select(holds))}
    # Each authorize request carries its own ``metadata.request``: a retried request that
    # made a second hold instead of answering with the first would show up here.
    requests = (json.loads(r.metadata).get("request") for r in hold_rows.values() if r.metadata)
    doubled = [k for k, n in Counter(requests).items() if k is not None and n > 1]
    assert not doubled, f"one authorize request made several holds: {doubled[:5]}"
    missing = acks.holds - hold_rows.keys()
    assert not missing, f"acknowledged authorizations lost: {sorted(missing)[:5]}"
    for hold_id, txn_id in acks.settles.items():
        assert hold_rows[hold_id].status == "settled", (hold_id, hold_rows[hold_id].status)
        assert hold_rows[hold_id].transaction_id == txn_id, hold_id
    for hold_id, answered in acks.voids.items():  # a retried void may find the hold expired
        assert hold_rows[hold_id].status == answered, (hold_id, hold_rows[hold_id].status, answered)
    txns = conn.execute(select(transactions.c.id, transactions.c.source, transactions.c.external_id)).all()
    ids = {t.id for t in txns}
    assert set(acks.settles.values()) <= ids, "an acknowledged settlement is not in the ledger"
    pairs = Counter((t.source, t.external_id) for t in txns if t.external_id is not None)
    lost = acks.external_ids - pairs.keys()
    assert not lost, f"acknowledged spends lost: {sorted(lost)[:5]}"
    twice = [p for p, n in pairs.items() if n > 1]
    assert not twice, f"recorded twice: {twice[:5]}"
    with_hold = select(transactions.c.hold_id).where(transactions.c.hold_id.isnot(None))
    per_hold = Counter(r.hold_id for r in conn.execute(with_hold))
    assert all(n == 1 for n in per_hold.values()), "a hold was settled twice"
    settled_holds = {h.id for h in hold_rows.values() if h.status == "settled"}
    assert settled_holds == set(per_hold), "settled holds and ledger rows with a hold differ"


def retried_authorizations(conn: Connection, acks: Acks) -> dict[str, int]:
    """How retried authorizations were answered: the original hold (the dead server had
    committed it) or a fresh one (it had not). Never both: ``check_acknowledged`` proves it."""
    created = dict(conn.execute(select(holds.c.id, holds.c.created_at)).all())
    original = sum(1 for hold, died_us in acks.retried_holds if created[hold] < died_us)
    return {"original": original, "fresh": len(acks.retried_holds) - original}


def held_matches_open_holds(conn: Connection) -> dict[str, tuple[int, int]]:
    """Per agent: (held in the state row, sum of open holds) — must be equal."""
    open_sum = dict(
        conn.execute(
            select(holds.c.agent_id, func.sum(holds.c.amount))
            .where(holds.c.status == "open")
            .group_by(holds.c.agent_id)
        ).all()
    )
    states = conn.execute(select(agent_state)).all()
    return {r.agent_id: (int(r.held), int(open_sum.get(r.agent_id) or 0)) for r in states}


def check_counters(conn: Connection) -> int:
    """Every spend counter equals the sum of its agent's ledger rows in that window."""
    expected: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for t in conn.execute(select(transactions)).mappings():
        delta = counter_delta(t["status"], int(t["amount"]))
        pairs = list(window_keys(from_us(t["occurred_at"])).items())
        if t["task_id"]:
            pairs.append(("per_task", t["task_id"]))
        for scope, period in pairs:
            acc = expected[(t["agent_id"], scope, period)]
            acc[0] += delta
            acc[1] += 1
    stored = {
        (r.agent_id, r.scope, r.period): [int(r.amount), int(r.count)]
        for r in conn.execute(select(spend_counters))
        if r.count or r.amount
    }
    assert stored == dict(expected), _counter_diff(stored, dict(expected))
    return len(stored)


def _counter_diff(stored: dict[Any, list[int]], expected: dict[Any, list[int]]) -> str:
    keys = set(stored) | set(expected)
    diff = [(k, stored.get(k), expected.get(k)) for k in sorted(keys) if stored.get(k) != expected.get(k)]
    return f"counters differ from the ledger (key, stored, expected): {diff[:5]}"


def settled_total(conn: Connection, agent_id: str) -> int:
    rows = conn.execute(
        select(transactions.c.status, transactions.c.amount).where(transactions.c.agent_id == agent_id)
    ).all()
    return sum(counter_delta(r.status, int(r.amount)) for r in rows)


def late_settled(conn: Connection, agent_id: str) -> tuple[int, int]:
    """(count, amount) of settlements recorded after their hold's expiry time: the hold may
    have expired first and released its headroom to other authorizations."""
    late = conn.execute(
        select(transactions.c.amount)
        .join(holds, holds.c.id == transactions.c.hold_id)
        .where(transactions.c.agent_id == agent_id, transactions.c.recorded_at > holds.c.expires_at)
    ).all()
    return len(late), sum(int(r.amount) for r in late)


def spend_timeline(conn: Connection, agent_id: str) -> str:
    """Every hold of the agent with its settlement, in time order (for a failure message)."""
    rows = conn.execute(
        select(
            holds.c.id,
            holds.c.amount,
            holds.c.status,
            holds.c.created_at,
            holds.c.expires_at,
            holds.c.closed_at,
            transactions.c.amount.label("settled"),
            transactions.c.recorded_at,
        )
        .outerjoin(transactions, transactions.c.hold_id == holds.c.id)
        .where(holds.c.agent_id == agent_id)
        .order_by(holds.c.created_at)
    ).all()
    return "\n" + "\n".join(str(tuple(r)) for r in rows)


def check_cap(conn: Connection, agent_id: str, cap: int) -> int:
    """Authorizations never promise more than the cap: settled spend is within it, except what
    settlements arriving after their hold expired added (DESIGN §1.3: the actual spend is
    recorded, and a resulting breach halts the agent). Returns the late settlements."""
    total = settled_total(conn, agent_id)
    late, late_amount = late_settled(conn, agent_id)
    assert total - late_amount <= cap, (
        f"{agent_id} spent {total} over its total cap {cap} ({late} late settlements): "
        + spend_timeline(conn, agent_id)
    )
    if total > cap:
        status, reason = conn.execute(
            select(agents.c.status, agents.c.status_reason).where(agents.c.id == agent_id)
        ).one()
        assert status == "halted" and "cap_breach" in (reason or ""), (
            f"{agent_id} spent {total} past its cap {cap} through {late} late settlements "
            f"but is {status} ({reason})"
        )
    return late


def check_all(runtime: Runtime, acks: Acks, caps: dict[str, int]) -> dict[str, int]:
    """Run every check; returns figures for the report."""
    with runtime.store.read() as conn:
        check_acknowledged(conn, acks)
        counters = check_counters(conn)
        late = sum(check_cap(conn, agent_id, cap) for agent_id, cap in caps.items())
        n_txn = conn.execute(select(func.count()).select_from(transactions)).scalar_one()
        n_holds = conn.execute(select(func.count()).select_from(holds)).scalar_one()
        retried = retried_authorizations(conn, acks)
    report = runtime.ledger.verify(None)
    assert report["ok"], report["findings"][:5]
    assert not [c for c in acks.codes if c >= 500], f"server errors answered: {dict(acks.codes)}"
    return {
        "late_settlements_on_capped": late,
        "retried_authorize_got_original": retried["original"],
        "retried_authorize_got_fresh": retried["fresh"],
        "transactions": int(n_txn),
        "holds": int(n_holds),
        "counters": counters,
        "chains": int(report["chains"]),
    }
