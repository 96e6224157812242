"""``/v1/analytics/recommendations``: cap suggestions and cheaper-model what-ifs per agent.

From the last 90 whole days of daily spend (day rollups; days count from the agent's
first day with spend, idle days included as zero):

* daily cap = 2.5 x average daily spend (range 2-3x shown), once ≥ 7 days of data exist;
* monthly cap = 2 x the 90th percentile of monthly-equivalent spend (a day's spend x 30).

Vendor/model share over the last 30 days, and for each model with token counts the
cost of moving ``shift_pct`` % of its tokens to the cheapest cheaper model of the same
vendor among ``CHEAPER_MODELS`` — both sides priced by list price (genai-prices, through
the ingest part's pricer when installed) so the comparison is like for like.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from spendwarden.analytics import reader, windows
from spendwarden.analytics.reader import Scope
from spendwarden.analytics.rollup import DAY_US
from spendwarden.analytics.summary import share, snapshot
from spendwarden.clock import iso, to_us
from spendwarden.db import queries_analytics as qa
from spendwarden.db.store import Store
from spendwarden.events import TokenUsage
from spendwarden.ledger.types import loads
from spendwarden.money import format_amount

HISTORY_DAYS = 90
MIX_DAYS = 30
MIN_DAYS = 7
CHEAPER_MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4.1-nano", "gpt-4o-mini", "gpt-4.1-mini"),
    "anthropic": ("claude-3-5-haiku-latest", "claude-haiku-4-5"),
    "google": ("gemini-2.0-flash", "gemini-2.5-flash-lite"),
}


def list_price(vendor: str | None, model: str, input_tokens: int, output_tokens: int) -> int | None:
    """List price in micros, or None when nobody knows the model."""
    usage = TokenUsage(input=input_tokens, output=output_tokens)
    try:
        from spendwarden.ingest.pricing import price_usage
    except ImportError:  # the ingest part is optional: ask genai-prices directly
        return _genai_price(vendor, model, usage)
    try:
        return price_usage(vendor, model, usage).amount_micros
    except Exception:
        return None


def _genai_price(vendor: str | None, model: str, usage: TokenUsage) -> int | None:
    import genai_prices

    try:
        price = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=usage.input, output_tokens=usage.output),
            model_ref=model,
            provider_id=vendor,
        )
    except Exception:
        return None
    return round(price.total_price * 1_000_000)


def percentile(values: list[int], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = (len(ordered) - 1) * pct
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def cap_suggestion(daily: list[int]) -> dict[str, Any]:
    """Daily amounts from the first active day to yesterday → suggested caps."""
    days = len(daily)
    avg = sum(daily) / days if days else 0.0
    ready = days >= MIN_DAYS
    monthly = 2 * percentile([d * 30 for d in daily], 0.9)
    return {
        "days_of_data": days,
        "average_daily_usd": format_amount(round(avg)),
        "ready": ready,
        "daily_cap_usd": format_amount(round(2.5 * avg)) if ready else None,
        "daily_cap_range_usd": [format_amount(round(2 * avg)), format_amount(round(3 * avg))]
        if ready
        else None,
        "monthly_cap_usd": format_amount(round(monthly)) if ready else None,
    }


def recommendations(store: Store, now: datetime, scope: Scope, shift_pct: float = 50.0) -> dict[str, Any]:
    today = to_us(now) - to_us(now) % DAY_US
    history = windows.Window(today - HISTORY_DAYS * DAY_US, today)
    with snapshot(store) as conn:
        agents = qa.agent_owners(conn, scope.owner, scope.agent_id)
        caps = _current_caps(conn, list(agents))
        per_agent = reader.series(conn, scope, history, windows.segments(history, "d"), "agent", "d")
        items = [
            _agent_item(conn, aid, owner, per_agent.get(aid, {}), caps.get(aid, {}), today, shift_pct)
            for aid, owner in agents.items()
        ]
    return {"at": iso(to_us(now)), "shift_pct": shift_pct, "agents": items}


def _current_caps(conn: Connection, agent_ids: list[str]) -> dict[str, dict[str, int]]:
    from spendwarden.db import queries as q

    out = {}
    for aid in agent_ids:
        row = q.get_agent(conn, aid)
        if row is not None:
            out[aid] = {k: int(v) for k, v in loads(row["caps"], {}).items() if v is not None}
    return out


def _agent_item(
    conn: Connection,
    agent_id: str,
    owner: str,
    points: dict[int, list[int]],
    caps: dict[str, int],
    today: int,
    shift_pct: float,
) -> dict[str, Any]:
    active = sorted(t for t, v in points.items() if v[0] or v[1])
    daily = [points.get(t, [0])[0] for t in range(active[0], today, DAY_US)] if active else []
    return {
        "agent_id": agent_id,
        "owner": owner,
        "current_caps_usd": {k: format_amount(v) for k, v in caps.items() if k in ("daily", "monthly")},
        "caps": cap_suggestion(daily),
        "models": _model_mix(conn, agent_id, today, shift_pct),
    }


def _model_mix(conn: Connection, agent_id: str, today: int, shift_pct: float) -> list[dict[str, Any]]:
    segs = [("d", today - MIX_DAYS * DAY_US, today)]
    rows = qa.cube_grouped(conn, segs, agent_id=agent_id, owner=None, group=["vendor", "model"])
    total = sum(int(r["amount"] or 0) for r in rows)
    out = []
    for r in sorted(rows, key=lambda r: (-int(r["amount"] or 0), r["vendor"], r["model"])):
        amount = int(r["amount"] or 0)
        item: dict[str, Any] = {
            "vendor": r["vendor"] or None,
            "model": r["model"] or None,
            "amount_usd": format_amount(amount),
            "share": share(amount, total),
            "input_tokens": int(r["input_tokens"] or 0),
            "output_tokens": int(r["output_tokens"] or 0),
            "alternative": None,
        }
        if r["model"] and (item["input_tokens"] or item["output_tokens"]):
            item["alternative"] = _cheaper(r["vendor"] or None, r["model"], item, shift_pct)
        out.append(item)
    return out


def _cheaper(vendor: str | None, model: str, item: dict[str, Any], shift_pct: float) -> dict[str, Any] | None:
    tokens = (item["input_tokens"], item["output_tokens"])
    current = list_price(vendor, model, *tokens)
    if current is None or vendor is None:
        return None
    priced = [
        (p, m)
        for m in CHEAPER_MODELS.get(vendor.lower(), ())
        if m != model and (p := list_price(vendor, m, *tokens)) is not None
    ]
    cheaper = [(p, m) for p, m in priced if p < current]
    if not cheaper:
        return None
    alt_price, alt_model = min(cheaper)
    fraction = shift_pct / 100
    return {
        "model": alt_model,
        "list_cost_usd": format_amount(current),
        "alternative_list_cost_usd": format_amount(alt_price),
        "shift_pct": shift_pct,
        "cost_after_shift_usd": format_amount(round(current * (1 - fraction) + alt_price * fraction)),
        "savings_usd": format_amount(round((current - alt_price) * fraction)),
    }
