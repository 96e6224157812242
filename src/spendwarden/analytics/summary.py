"""``/v1/analytics/summary`` and ``/v1/analytics/timeseries``: totals, breakdowns, series.

Both read rollups only (``reader``), so their cost follows the number of distinct
(bucket x dimension key) cells in the window, never the number of raw events.
``count`` is the number of ledger rows (calls of any status) and ``events_in_window`` the
same for the whole window: how many raw rows the answer stands for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from spendwarden.analytics import reader, windows
from spendwarden.analytics.reader import Scope
from spendwarden.analytics.rollup import DAY_US
from spendwarden.clock import iso, to_us
from spendwarden.config import Settings
from spendwarden.db.store import Store
from spendwarden.errors import ValidationFailed
from spendwarden.money import format_amount

DEFAULT_GROUP_BY = ("agent", "model", "vendor", "rail", "tool", "user", "owner")
TOP_USERS = 10
MAX_POINTS = 1500


@contextmanager
def snapshot(store: Store) -> Iterator[Connection]:
    """One consistent read: fleet rollups and the journal must come from the same snapshot
    (a fold moves rows between them). SQLite's read transaction already is one."""
    with store.read() as conn:
        if store.is_postgres:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def entry(key: str, values: list[int], total: int) -> dict[str, Any]:
    return {
        "key": key,
        "amount_usd": format_amount(values[0]),
        "count": values[1],
        "share": share(values[0], total),
    }


def summary(
    store: Store,
    settings: Settings,
    now: datetime,
    window: windows.Window,
    group_by: list[str],
    scope: Scope,
    limit: int = 50,
) -> dict[str, Any]:
    """Breakdowns keep the ``limit`` largest keys; the rest are summed into ``(other)`` so every
    breakdown still adds up to the total."""
    dims = reader.check_dims([*group_by, "total", "user"])
    segs = windows.segments(window)
    now_us = to_us(now)
    windows.check_minutes(segs, now_us, settings.analytics_minute_retention_days)
    oldest = now_us - settings.analytics_minute_retention_days * DAY_US
    with snapshot(store) as conn:
        ranked = reader.ranked(
            conn,
            store.is_postgres,
            scope,
            window,
            segs,
            dims,
            max(limit + 1, TOP_USERS),
            {"user": TOP_USERS},
            oldest,
        )
    total = ranked["total"].sums
    users = ranked["user"]
    return {
        "window": window.public(),
        "scope": {"agent_id": scope.agent_id, "owner": scope.owner},
        "total_usd": format_amount(total[0]),
        "count": total[1],
        "failed_count": total[2],
        "events_in_window": total[1],
        "breakdowns": {d: _rendered(ranked[d], total[0], limit) for d in group_by},
        "top_users": {
            "by_cost": [entry(k, v, total[0]) for k, v in users.top[:TOP_USERS]],
            "by_requests": [entry(k, v, total[0]) for k, v in users.by_count],
        },
    }


def _rendered(ranked: reader.Ranked, total: int, limit: int) -> list[dict[str, Any]]:
    top = ranked.top[:limit]
    out = [entry(k, v, total) for k, v in top]
    if ranked.present > limit:
        rest = [
            ranked.sums[0] - sum(v[0] for _k, v in top),
            ranked.sums[1] - sum(v[1] for _k, v in top),
        ]
        out.append(entry("(other)", rest, total))
    return out


def timeseries(
    store: Store,
    settings: Settings,
    now: datetime,
    window: windows.Window,
    bucket: str,
    dimension: str | None,
    scope: Scope,
    limit: int = 20,
) -> dict[str, Any]:
    """One series per key of ``dimension`` (or one ``total`` series); every bucket of the
    window has a point, so sums over points equal the summary total. Keys beyond ``limit``
    (by amount) are summed into ``(other)``."""
    if bucket not in windows.BUCKETS:
        raise ValidationFailed("bucket must be minute, hour or day.", bucket=bucket)
    g = windows.BUCKETS[bucket]
    times = windows.point_times(window, g)
    if len(times) > MAX_POINTS:
        raise ValidationFailed(f"Too many points ({len(times)}); use a coarser bucket.", points=len(times))
    stamps = [iso(t) for t in times]
    dim = dimension or "total"
    reader.check_dims([dim])
    segs = windows.segments(window, g)
    windows.check_minutes(segs, to_us(now), settings.analytics_minute_retention_days)
    with snapshot(store) as conn:
        data = reader.series(conn, scope, window, segs, dim, g, n_measures=2)
    return {
        "bucket": bucket,
        "window": window.public(),
        "dimension": dim,
        "series": [_series(key, points, times, stamps) for key, points in _limit(data, limit)],
    }


def _limit(data: reader.Series, limit: int) -> list[tuple[str, dict[int, list[int]]]]:
    ranked = sorted(data.items(), key=lambda i: (-sum(v[0] for v in i[1].values()), i[0]))
    kept, rest = ranked[:limit], ranked[limit:]
    if rest:
        other: dict[int, list[int]] = {}
        for _key, points in rest:
            for t, v in points.items():
                acc = other.setdefault(t, [0] * len(v))
                for i, x in enumerate(v):
                    acc[i] += x
        kept.append(("(other)", other))
    return kept


def _series(
    key: str, points: dict[int, list[int]], times: list[int], stamps: list[str | None]
) -> dict[str, Any]:
    zero, none = [0, 0], format_amount(0)
    out = []
    for t, stamp in zip(times, stamps, strict=True):
        v = points.get(t, zero)
        out.append({"t": stamp, "amount_usd": format_amount(v[0]) if v[0] else none, "count": v[1]})
    return {"key": key, "amount_usd": format_amount(sum(v[0] for v in points.values())), "points": out}
