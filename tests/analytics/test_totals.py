"""Property: every total the analytics answer equals the sum straight from the ledger rows.

Random spends (all statuses, retries, users, tasks, rails; normal and bulk path) land
around the awkward edges — UTC midnight, the October/November month end — and random
windows, hour-aligned over the month or minute-aligned over the last days, are asked of
summary (fleet, owner and agent scopes), timeseries, billing and forecast, with and
without the fleet journal folded. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from spendwarden.analytics import billing, forecast, summary, windows
from spendwarden.analytics.fold import fold_journal
from spendwarden.analytics.reader import Scope
from spendwarden.runtime import Runtime
from tests.analytics.helpers import AGENTS, event, expected, ledger_rows, make_agents, record_all, us, usd

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EDGES = [
    datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 22, 23, 59, 30, tzinfo=UTC),
    datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
]
GROUPS = ["agent", "model", "user", "owner", "rail", "status", "vendor", "tool"]
COLUMN = {"agent": "agent_id", "user": "user_id"}

spends = st.lists(
    st.tuples(
        st.sampled_from(sorted(AGENTS)),
        st.integers(0, 5_000_000),
        st.one_of(
            st.sampled_from(EDGES), st.integers(0, 33 * 1440 * 60).map(lambda s: NOW - timedelta(seconds=s))
        ),
        st.sampled_from(["settled", "settled", "refunded", "failed", "voided"]),
        st.integers(1, 3),
        st.sampled_from([None, "u1", "u2"]),
        st.sampled_from([None, "t1", "t2"]),
        st.sampled_from(
            [("openai", "gpt-4o", "llm_api"), (None, None, "x402"), ("anthropic", "claude", "llm_api")]
        ),
    ),
    min_size=1,
    max_size=12,
)
hour_windows = st.tuples(st.integers(-2, 33 * 24), st.integers(1, 34 * 24)).map(
    lambda t: (NOW - timedelta(hours=t[0]), NOW - timedelta(hours=t[0]) + timedelta(hours=t[1]))
)
minute_windows = st.tuples(st.integers(0, 6 * 1440), st.integers(1, 3 * 1440)).map(
    lambda t: (NOW - timedelta(minutes=t[0]), NOW - timedelta(minutes=t[0]) + timedelta(minutes=t[1]))
)
fixed_windows = st.sampled_from(
    [
        (datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC)),
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), datetime(2026, 11, 23, 0, 1, tzinfo=UTC)),
        (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
    ]
)


def _events(draw: list[tuple[Any, ...]]) -> list[Any]:
    return [
        event(
            a,
            amount,
            at,
            status=status,
            attempt=attempt,
            user_id=user,
            task_id=task,
            vendor=v,
            model=m,
            rail=rail,
        )
        for a, amount, at, status, attempt, user, task, (v, m, rail) in draw
    ]


# No shrinking: the database keeps earlier examples' rows, so a shrunk replay is not the same case;
# the failing windows and scope are in the assertion message instead.
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=spends,
    bulk=st.booleans(),
    fold=st.booleans(),
    wins=st.lists(st.one_of(hour_windows, minute_windows, fixed_windows), min_size=1, max_size=4),
)
def test_totals_equal_ledger_sums(
    runtime: Runtime,
    batch: list[tuple[Any, ...]],
    bulk: bool,
    fold: bool,
    wins: list[tuple[datetime, datetime]],
) -> None:
    if not ledger_rows(runtime) and "alpha" not in _agents(runtime):
        make_agents(runtime)
    record_all(runtime, _events(batch), bulk=bulk)
    if fold:
        fold_journal(runtime.store, batch=3)
    rows = ledger_rows(runtime)
    for lo, hi in wins:
        window = windows.explicit(lo, hi)
        _check_summary(runtime, rows, window)
        _check_timeseries(runtime, rows, window)
        _check_billing(runtime, rows, window)
    got = forecast.forecast(runtime.store, NOW, Scope())
    mtd = expected(rows, us(datetime(2026, 11, 1, tzinfo=UTC)), windows.minute_end(us(NOW)))
    assert got["spend_to_date_usd"] == usd(mtd.get("", [0])[0])


def _agents(runtime: Runtime) -> set[str]:
    from spendwarden.db import queries as q

    with runtime.store.read() as conn:
        return set(q.agent_ids(conn))


def _check_summary(runtime: Runtime, rows: list[dict[str, Any]], window: windows.Window) -> None:
    lo, hi = window.start_us, window.end_us
    scopes = [(Scope(), rows), (Scope(owner="acme"), [r for r in rows if AGENTS[r["agent_id"]] == "acme"])]
    scopes.append((Scope(agent_id="gamma"), [r for r in rows if r["agent_id"] == "gamma"]))
    for scope, subset in scopes:
        got = summary.summary(runtime.store, runtime.settings, NOW, window, GROUPS, scope, limit=10_000)
        total = expected(subset, lo, hi).get("", [0, 0])
        assert (got["total_usd"], got["count"]) == (usd(total[0]), total[1]), (scope, window)
        for dim in GROUPS:
            column = COLUMN.get(dim, dim)
            if dim == "owner":
                want = _by_owner(subset, lo, hi)
            else:
                want = expected(subset, lo, hi, column)
            if dim == "user":
                want.pop("", None)
            want = {k: v for k, v in want.items() if v != [0, 0]}
            have = {e["key"]: [e["amount_usd"], e["count"]] for e in got["breakdowns"][dim]}
            assert have == {k: [usd(v[0]), v[1]] for k, v in want.items()}, (scope, dim, window)
            if dim == "user":
                _check_top_users(got["top_users"], want, scope, window)
        _check_ranking(runtime, subset, window, scope)


def _ranked(want: dict[Any, list[int]], measure: int) -> list[tuple[Any, list[int]]]:
    return sorted(want.items(), key=lambda i: (-i[1][measure], i[0]))


def _check_top_users(got: dict[str, Any], want: dict[Any, list[int]], scope: Scope, window: Any) -> None:
    for name, measure in (("by_cost", 0), ("by_requests", 1)):
        expect = [[k, usd(v[0]), v[1]] for k, v in _ranked(want, measure)[: summary.TOP_USERS]]
        assert [[e["key"], e["amount_usd"], e["count"]] for e in got[name]] == expect, (scope, name, window)


def _check_ranking(
    runtime: Runtime, subset: list[dict[str, Any]], window: windows.Window, scope: Scope
) -> None:
    """With a small limit each breakdown is the largest keys in order (ties by key) and one
    ``(other)`` holding the rest: ranked in the database for the fleet, in Python otherwise."""
    lo, hi = window.start_us, window.end_us
    for limit in (1, 2):
        got = summary.summary(runtime.store, runtime.settings, NOW, window, GROUPS, scope, limit=limit)
        for dim in GROUPS:
            column = COLUMN.get(dim, dim)
            want = _by_owner(subset, lo, hi) if dim == "owner" else expected(subset, lo, hi, column)
            if dim == "user":
                want.pop("", None)
            ranked = [(k, v) for k, v in _ranked(want, 0) if v != [0, 0]]
            expect = [[k, usd(v[0]), v[1]] for k, v in ranked[:limit]]
            if len(ranked) > limit:
                rest = ranked[limit:]
                expect.append(["(other)", usd(sum(v[0] for _k, v in rest)), sum(v[1] for _k, v in rest)])
            have = [[e["key"], e["amount_usd"], e["count"]] for e in got["breakdowns"][dim]]
            assert have == expect, (scope, dim, limit, window)


def _by_owner(rows: list[dict[str, Any]], lo: int, hi: int) -> dict[Any, list[int]]:
    tagged = [{**r, "owner": AGENTS[r["agent_id"]]} for r in rows]
    return expected(tagged, lo, hi, "owner")


def _check_timeseries(runtime: Runtime, rows: list[dict[str, Any]], window: windows.Window) -> None:
    span = window.end_us - window.start_us
    recent = window.start_us >= us(NOW - timedelta(days=6))
    bucket = (
        "minute" if span <= 6 * 3600 * 10**6 and recent else "hour" if span <= 40 * 86400 * 10**6 else "day"
    )
    size = {"minute": 60, "hour": 3600, "day": 86400}[bucket] * 10**6
    got = summary.timeseries(runtime.store, runtime.settings, NOW, window, bucket, None, Scope())
    have = {p["t"]: (p["amount_usd"], p["count"]) for s in got["series"] for p in s["points"] if p["count"]}
    want: dict[int, list[int]] = {}
    for r in rows:
        if window.start_us <= r["occurred_at"] < window.end_us:
            acc = want.setdefault(r["occurred_at"] - r["occurred_at"] % size, [0, 0])
            acc[0] += expected([r], 0, 2**62)[""][0]
            acc[1] += 1
    from spendwarden.clock import iso

    assert have == {iso(t): (usd(v[0]), v[1]) for t, v in want.items()}, window


def _check_billing(runtime: Runtime, rows: list[dict[str, Any]], window: windows.Window) -> None:
    report = billing.billing_report(
        runtime.store, owner="acme", agent_id=None, start_us=window.start_us, end_us=window.end_us
    )
    subset = [r for r in rows if AGENTS[r["agent_id"]] == "acme"]
    total = expected(subset, window.start_us, window.end_us).get("", [0, 0])
    assert (report["totals"]["amount_usd"], report["totals"]["count"]) == (usd(total[0]), total[1])
    assert report["reconciliation"]["matches"]
    ids = sorted(i for line in report["lines"] for i in line["transaction_ids"])
    assert ids == sorted(r["id"] for r in subset if window.start_us <= r["occurred_at"] < window.end_us)
