"""The fold keeps every fleet level consistent: coarser spans equal the hours they cover,
and fleet totals next to the minute-retention edge never read a pruned minute."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from spendwarden.analytics import summary, windows
from spendwarden.analytics.fold import fold_journal
from spendwarden.analytics.reader import Scope
from spendwarden.db import queries_analytics as qa
from spendwarden.db.tables.analytics import fleet_rollups, fleet_spans
from spendwarden.runtime import Runtime
from tests.analytics.helpers import AGENTS, event, expected, ledger_rows, make_agents, record_all, us, usd

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _spends(rnd: random.Random, n: int, days: int) -> list[object]:
    out = []
    for _ in range(n):
        at = NOW - timedelta(minutes=rnd.randrange(0, days * 1440))
        out.append(
            event(
                rnd.choice(sorted(AGENTS)),
                rnd.randrange(1, 2_000_000),
                at,
                status=rnd.choice(["settled", "settled", "refunded", "failed"]),
                user_id=rnd.choice([None, "u1", "u2", "u3"]),
                model=rnd.choice(["gpt-4o", "claude"]),
                vendor="v",
            )
        )
    return out


def test_spans_equal_the_hours_they_cover(runtime: Runtime) -> None:
    make_agents(runtime)
    rnd = random.Random(11)
    record_all(runtime, _spends(rnd, 60, 150))
    fold_journal(runtime.store, batch=7)  # several folds, and late rows into folded cells
    record_all(runtime, _spends(rnd, 60, 150), bulk=True)
    fold_journal(runtime.store, batch=13)
    with runtime.store.read() as conn:
        hours = conn.execute(select(fleet_rollups).where(fleet_rollups.c.granularity == "h")).mappings().all()
        spans = conn.execute(select(fleet_spans)).mappings().all()
    assert hours
    sizes = {**qa.SPAN_SIZES, "d": qa.BUCKET_SIZES["d"]}
    want: dict[tuple[str, str, int, str], list[int]] = {}
    for r in hours:
        for span, size in qa.SPAN_SIZES.items():
            b = r["bucket_start_us"] - r["bucket_start_us"] % size
            acc = want.setdefault((span, r["dim"], b, r["key"]), [0] * len(qa.MEASURES))
            for i, m in enumerate(qa.MEASURES):
                acc[i] += r[m]
    have = {(r["span"], r["dim"], r["bucket_start_us"], r["key"]): [r[m] for m in qa.MEASURES] for r in spans}
    assert have == want
    assert all(r["bucket_start_us"] % sizes[r["span"]] == 0 for r in spans)


def test_fleet_totals_next_to_minute_retention(runtime: Runtime) -> None:
    make_agents(runtime)
    rnd = random.Random(5)
    now = NOW - timedelta(minutes=50)  # retention then ends at :10
    retention = runtime.settings.analytics_minute_retention_days
    cut = now - timedelta(days=retention)
    edge = [
        event("alpha", 1_000 * (k + 50), cut + timedelta(minutes=k, seconds=5)) for k in range(-25, 70, 3)
    ]
    record_all(runtime, [*_spends(rnd, 200, 9), *edge], bulk=True)
    fold_journal(runtime.store)
    oldest = us(cut)
    with runtime.store.write() as conn:
        qa.delete_minute_rollups(conn, oldest)
    rows = ledger_rows(runtime)
    for start_min in (0, 1, 7, 29, 30, 31, 59, 60, 61, 100):
        for length_min in (1, 45, 1440, 2 * 1440 + 17):
            lo = oldest + start_min * 60_000_000
            w = windows.Window(lo, lo + length_min * 60_000_000)
            got = summary.summary(runtime.store, runtime.settings, now, w, ["agent", "user"], Scope())
            total = expected(rows, w.start_us, w.end_us).get("", [0, 0])
            assert (got["total_usd"], got["count"]) == (usd(total[0]), total[1]), (start_min, length_min)
            by_agent = {e["key"]: [e["amount_usd"], e["count"]] for e in got["breakdowns"]["agent"]}
            want = expected(rows, w.start_us, w.end_us, "agent_id")
            assert by_agent == {k: [usd(v[0]), v[1]] for k, v in want.items() if v != [0, 0]}


def test_minute_cells_past_retention_are_not_folded(runtime: Runtime) -> None:
    """A backfill pays hours, days and spans only; every total a query may ask stays exact."""
    make_agents(runtime)
    rnd = random.Random(3)
    record_all(runtime, _spends(rnd, 120, 30), bulk=True)
    retention = runtime.settings.analytics_minute_retention_days
    cut = us(NOW) - retention * 86_400_000_000
    fold_journal(runtime.store, batch=17, minutes_from=cut)
    with runtime.store.read() as conn:
        minutes = conn.execute(
            select(fleet_rollups.c.bucket_start_us).where(fleet_rollups.c.granularity == "m")
        ).all()
    assert minutes and min(m[0] for m in minutes) >= cut - cut % 3_600_000_000
    rows = ledger_rows(runtime)
    for lo, hi in ((cut + 7 * 60_000_000, us(NOW) + 60_000_000), (us(NOW) - 30 * 86_400_000_000, us(NOW))):
        w = windows.Window(lo, hi)
        got = summary.summary(runtime.store, runtime.settings, NOW, w, ["agent"], Scope())
        total = expected(rows, lo, hi).get("", [0, 0])
        assert (got["total_usd"], got["count"]) == (usd(total[0]), total[1])
        series = summary.timeseries(runtime.store, runtime.settings, NOW, w, "day", None, Scope())
        assert sum(p["count"] for s in series["series"] for p in s["points"]) == total[1]


def test_fold_takes_the_oldest_rows_with_statistics_from_an_empty_journal(runtime: Runtime) -> None:
    """The journal is a queue: analyzed while empty, then filled, its statistics say one row.
    A fold batch must still take exactly the ``limit`` oldest rows, once each (on PostgreSQL
    the ids are locked first and deleted by array, a plan the statistics cannot turn into a
    rescan per row)."""
    from spendwarden.analytics.fold import fold_once
    from spendwarden.db.tables.analytics import rollup_journal

    make_agents(runtime)
    with runtime.store.write() as conn:
        conn.exec_driver_sql("ANALYZE rollup_journal")
    rnd = random.Random(5)
    record_all(runtime, _spends(rnd, 120, 2), bulk=True)
    with runtime.store.read() as conn:
        before = [r[0] for r in conn.execute(select(rollup_journal.c.id).order_by(rollup_journal.c.id))]
    assert len(before) > 40
    assert fold_once(runtime.store, 25) == 25
    with runtime.store.read() as conn:
        after = [r[0] for r in conn.execute(select(rollup_journal.c.id).order_by(rollup_journal.c.id))]
    assert after == before[25:]
    fold_journal(runtime.store, batch=25)
    rows = ledger_rows(runtime)
    lo, hi = us(NOW - timedelta(days=3)), us(NOW + timedelta(days=1))
    total = expected(rows, lo, hi)
    with runtime.store.read() as conn:
        folded = (
            conn.execute(
                select(fleet_rollups).where(
                    fleet_rollups.c.granularity == "d", fleet_rollups.c.dim == "total"
                )
            )
            .mappings()
            .all()
        )
    assert sum(r["amount"] for r in folded) == sum(v[0] for v in total.values())
