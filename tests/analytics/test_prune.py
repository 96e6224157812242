"""Retention: pruning raw rows changes no total of any endpoint and keeps chains provable."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spendwarden.analytics import billing, forecast, profile, recommend, summary, windows
from spendwarden.analytics.fold import fold_journal
from spendwarden.analytics.prune import prune
from spendwarden.analytics.reader import Scope
from spendwarden.errors import ValidationFailed
from spendwarden.runtime import Runtime
from tests.analytics.helpers import AGENTS, event, ledger_rows, make_agents, record_all, us

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _history(runtime: Runtime) -> None:
    rnd = random.Random(7)
    events = []
    for i in range(150):
        at = NOW - timedelta(minutes=rnd.randrange(0, 150 * 1440))
        status = rnd.choice(["settled", "settled", "settled", "refunded", "failed"])
        events.append(
            event(
                rnd.choice(sorted(AGENTS)),
                rnd.randrange(1, 3_000_000),
                at,
                status=status,
                attempt=rnd.choice([1, 1, 2]),
                user_id=rnd.choice([None, "u1", "u2"]),
                task_id=f"t{i % 9}",
                vendor="openai",
                model=rnd.choice(["gpt-4o", "gpt-4o-mini"]),
                tool=rnd.choice(["search", "code"]),
            )
        )
    events.sort(key=lambda e: e.occurred_at)  # history is recorded as it happens ...
    events += [
        event("alpha", 1_000, NOW - 120 * DAY),
        event("beta", 2_000, NOW - 100 * DAY, status="refunded"),
    ]
    record_all(runtime, events[:75])  # ... but two late backfills of old spends arrive last
    fold_journal(runtime.store)  # fleet rollups hold the first half, the journal the rest
    record_all(runtime, events[75:], bulk=True)


def _answers(runtime: Runtime) -> dict[str, Any]:
    store, cfg = runtime.store, runtime.settings
    wins = [
        windows.explicit(NOW - 150 * DAY, NOW),
        windows.explicit(datetime(2026, 7, 1, 5, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)),
        windows.resolve(NOW, "24h", None, None),
        windows.resolve(NOW, "mtd", None, None),
    ]
    out: dict[str, Any] = {}
    for i, w in enumerate(wins):
        for scope in (Scope(), Scope(owner="acme"), Scope(agent_id="gamma")):
            out[f"summary{i}{scope}"] = summary.summary(
                store, cfg, NOW, w, ["agent", "model", "user", "tool"], scope
            )
        out[f"series{i}"] = summary.timeseries(store, cfg, NOW, w, "day", "agent", Scope())
    out["forecast"] = forecast.forecast(store, NOW, Scope())
    out["recommend"] = recommend.recommendations(store, NOW, Scope())
    out["profiles"] = [profile.agent_profile(store, a, NOW) for a in sorted(AGENTS)]
    report = billing.billing_report(
        store, owner="acme", agent_id=None, start_us=us(NOW - 160 * DAY), end_us=us(NOW)
    )
    out["billing"] = (
        report["totals"],
        report["reconciliation"]["lines_amount_usd"],
        report["reconciliation"]["matches"],
    )
    return out


def test_every_total_survives_pruning(runtime: Runtime) -> None:
    make_agents(runtime)
    _history(runtime)
    before = _answers(runtime)
    cut = us(datetime(2026, 8, 25, tzinfo=UTC))  # floor(NOW - 90 days) to UTC midnight

    result = prune(runtime.store, NOW, timedelta(days=90), minute_retention_days=7)

    assert result.cut_us == cut and result.transactions > 0
    old_left = [r for r in ledger_rows(runtime) if r["occurred_at"] < cut]
    assert len(old_left) == 2  # the backfills sit after newer rows in their chains: kept
    assert _answers(runtime) == before
    assert runtime.ledger.verify()["ok"], runtime.ledger.verify()
    again = prune(runtime.store, NOW, timedelta(days=90), minute_retention_days=7)
    assert again.transactions == 0 and _answers(runtime) == before


def test_pruned_billing_lines_trace_to_the_checkpoint(runtime: Runtime) -> None:
    make_agents(runtime)
    _history(runtime)
    prune(runtime.store, NOW, timedelta(days=90), minute_retention_days=7)
    report = billing.billing_report(
        runtime.store,
        owner=None,
        agent_id="alpha",
        start_us=us(NOW - 160 * DAY - timedelta(hours=12)),
        end_us=us(NOW),
    )
    archived = [line for line in report["lines"] if line["source"] == "archive"]
    assert archived and report["reconciliation"]["matches"]
    with runtime.store.read() as conn:
        from spendwarden.db import queries as q

        checkpoint = q.get_checkpoint(conn, "alpha")
    assert checkpoint is not None
    assert max(line["last_seq"] for line in archived) == checkpoint["seq"]
    with pytest.raises(ValidationFailed):  # a pruned day cannot be split
        billing.billing_report(
            runtime.store,
            owner=None,
            agent_id="alpha",
            start_us=us(datetime(2026, 8, 1, 6, tzinfo=UTC)),
            end_us=us(NOW),
        )
