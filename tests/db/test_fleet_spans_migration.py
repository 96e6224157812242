"""Migration 0006 fills ``fleet_spans`` from the hourly fleet rollups already folded, so fleet
totals read through spans are exact right after an upgrade (both backends)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import insert, select

from spendwarden.db import queries_analytics as qa
from spendwarden.db.engine import make_null_pool_engine
from spendwarden.db.migrate import alembic_config, upgrade
from spendwarden.db.tables.analytics import fleet_rollups, fleet_spans

HOUR = 3_600_000_000


def test_upgrade_fills_spans_from_hours(database_url: str) -> None:
    engine = make_null_pool_engine(database_url)
    with engine.begin() as conn:
        cfg = alembic_config(database_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    start = 1_795_000_000 * 1_000_000 // HOUR * HOUR
    rows = [
        {
            "granularity": "h",
            "dim": dim,
            "bucket_start_us": start + h * HOUR,
            "key": key,
            **{m: (h + 1) * (i + 1) for i, m in enumerate(qa.MEASURES)},
        }
        for h in range(0, 24 * 70, 7)
        for dim, key in (("agent", "a1"), ("agent", "a2"), ("total", ""))
    ]
    with engine.begin() as conn:
        conn.execute(insert(fleet_rollups), rows)
    upgrade(database_url)
    with engine.connect() as conn:
        spans = {
            (r["span"], r["dim"], r["bucket_start_us"], r["key"]): [r[m] for m in qa.MEASURES]
            for r in conn.execute(select(fleet_spans)).mappings()
        }
    engine.dispose()
    want: dict[tuple[str, str, int, str], list[int]] = {}
    for r in rows:
        for span, size in qa.SPAN_SIZES.items():
            key = (span, r["dim"], r["bucket_start_us"] - r["bucket_start_us"] % size, r["key"])
            acc = want.setdefault(key, [0] * len(qa.MEASURES))
            for i, m in enumerate(qa.MEASURES):
                acc[i] += r[m]
    assert spans == want
