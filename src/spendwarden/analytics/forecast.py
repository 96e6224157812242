"""``/v1/analytics/forecast``: month-end projections for the fleet, an owner or an agent.

The arithmetic is pure (``project``) so the live forecast and the backtest share it:
made with ``elapsed`` days of a ``days``-day month gone and ``spent`` so far,

* projected total = spent / elapsed x days (the month's daily average carried forward);
* trend-adjusted total = spent + recent 3-day average x days remaining;
* trend = increasing / decreasing when the recent average is 10 % above / below the
  month's average, else stable.

Live, ``elapsed`` is fractional (now - first of month) and the recent average is the
spend of the last 72 hours / 3. The backtest replays previous months (up to three with
data): the forecast made at the end of each day N (N = 1 … days - 1) against the month's
actual total, summarised as mean absolute percentage error (MAPE) per method.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from spendwarden.analytics import reader, windows
from spendwarden.analytics.reader import Scope
from spendwarden.analytics.rollup import DAY_US, HOUR_US
from spendwarden.analytics.summary import snapshot
from spendwarden.clock import iso, to_us
from spendwarden.db.store import Store
from spendwarden.money import format_amount

BACKTEST_MONTHS = 3
TREND_BAND = 0.10


@dataclass(frozen=True)
class Projection:
    daily_average: float
    recent_average: float
    projected: float
    trend_adjusted: float
    trend: str


def project(spent: float, elapsed: float, recent_average: float, days: int) -> Projection:
    daily = spent / elapsed if elapsed > 0 else 0.0
    trend = "stable"
    if recent_average > daily * (1 + TREND_BAND):
        trend = "increasing"
    elif recent_average < daily * (1 - TREND_BAND):
        trend = "decreasing"
    return Projection(
        daily, recent_average, daily * days, spent + recent_average * max(days - elapsed, 0), trend
    )


def backtest_month(daily: list[int]) -> list[dict[str, Any]]:
    """Forecasts made at the end of each day of one finished month, against its total."""
    actual = sum(daily)
    points = []
    for n in range(1, len(daily)):
        recent = daily[max(0, n - 3) : n]
        p = project(sum(daily[:n]), n, sum(recent) / len(recent), len(daily))
        points.append(
            {"day": n, "projected": p.projected, "trend_adjusted": p.trend_adjusted, "actual": actual}
        )
    return points


def mape(points: list[dict[str, Any]], key: str) -> float | None:
    errors = [abs(p[key] - p["actual"]) / p["actual"] for p in points if p["actual"] > 0]
    return round(100 * sum(errors) / len(errors), 2) if errors else None


def forecast(store: Store, now: datetime, scope: Scope) -> dict[str, Any]:
    now_us = to_us(now)
    start = windows.month_start(now)
    days = calendar.monthrange(start.year, start.month)[1]
    end = windows.minute_end(now_us)
    first = windows.month_start(start - timedelta(days=28 * BACKTEST_MONTHS))
    history = windows.Window(to_us(first), to_us(start))
    with snapshot(store) as conn:
        mtd_w = windows.Window(to_us(start), end)
        spent = _total(conn, scope, mtd_w)
        recent_w = windows.Window(end - 72 * HOUR_US, end)
        recent = _total(conn, scope, recent_w)
        past = reader.series(conn, scope, history, windows.segments(history, "d"), "total", "d").get("", {})
    elapsed = max((now - start).total_seconds() / 86_400, 1 / 24)
    p = project(spent, elapsed, recent / 3, days)
    months = _backtest(past, first, start)
    all_points = [pt for m in months for pt in m.pop("_points")]
    return {
        "scope": {"agent_id": scope.agent_id, "owner": scope.owner},
        "at": iso(now_us),
        "month": start.strftime("%Y-%m"),
        "day_of_month": now.day,
        "days_in_month": days,
        "spend_to_date_usd": format_amount(spent),
        "daily_average_usd": format_amount(round(p.daily_average)),
        "recent_3_day_average_usd": format_amount(round(p.recent_average)),
        "projected_month_total_usd": format_amount(round(p.projected)),
        "trend_adjusted_total_usd": format_amount(round(p.trend_adjusted)),
        "trend": p.trend,
        "backtest": {
            "months": months,
            "forecasts": len(all_points),
            "mape_projected_pct": mape(all_points, "projected"),
            "mape_trend_adjusted_pct": mape(all_points, "trend_adjusted"),
        },
    }


def _total(conn: Any, scope: Scope, window: windows.Window) -> int:
    data = reader.breakdown(conn, scope, window, windows.segments(window), ["total"])
    return data["total"].get("", [0])[0]


def _backtest(past: dict[int, list[int]], first: datetime, stop: datetime) -> list[dict[str, Any]]:
    months = []
    month = first
    while month < stop:
        nxt = windows.next_month(month)
        lo = to_us(month)
        n_days = (to_us(nxt) - lo) // DAY_US
        daily = [past.get(lo + i * DAY_US, [0])[0] for i in range(n_days)]
        if any(daily):
            points = backtest_month(daily)
            months.append(
                {
                    "month": month.strftime("%Y-%m"),
                    "actual_usd": format_amount(sum(daily)),
                    "mape_projected_pct": mape(points, "projected"),
                    "mape_trend_adjusted_pct": mape(points, "trend_adjusted"),
                    "_points": points,
                }
            )
        month = nxt
    return months
