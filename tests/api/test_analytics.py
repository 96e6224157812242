"""Analytics endpoints over HTTP: who may call them, their shapes, and input errors."""

from __future__ import annotations

from typing import Any

import pytest

from spendwarden.ledger.admin import create_token
from spendwarden.runtime import Runtime
from tests.api.test_spend_api import create
from tests.factories import bearer

ROUTES = [
    "/v1/analytics/summary",
    "/v1/analytics/timeseries",
    "/v1/analytics/agents/bot",
    "/v1/analytics/forecast",
    "/v1/analytics/recommendations",
    "/v1/reports/billing?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
]


def _spend(client: Any, key: str, amount: str, **fields: Any) -> None:
    body = {"amount_usd": amount, "vendor": "openai", "model": "gpt-4o", **fields}
    r = client.post("/v1/transactions", json=body, headers=bearer(key))
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def viewer(runtime: Runtime) -> dict[str, str]:
    return bearer(create_token(runtime.ledger.core, "viewer", "dash", actor="test"))


def test_viewer_reads_agent_key_is_refused(
    client: Any, admin_headers: dict[str, str], viewer: dict[str, str]
) -> None:
    key = create(client, admin_headers)
    for path in ROUTES:
        assert client.get(path, headers=bearer(key)).status_code == 403, path
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=viewer).status_code == 200, path
        assert client.get(path, headers=admin_headers).status_code == 200, path


def test_summary_and_timeseries_see_a_spend_at_once(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, owner="acme")
    _spend(client, key, "1.25", user_id="u1", tool="search")
    _spend(client, key, "0.75", user_id="u2", tool="search")
    body = client.get("/v1/analytics/summary?window=15m", headers=admin_headers).json()
    assert (body["total_usd"], body["count"], body["events_in_window"]) == ("2.000000", 2, 2)
    assert body["breakdowns"]["agent"] == [{"key": "bot", "amount_usd": "2.000000", "count": 2, "share": 1.0}]
    assert [u["key"] for u in body["top_users"]["by_cost"]] == ["u1", "u2"]
    owner = client.get(
        "/v1/analytics/summary?window=1h&owner=acme&group_by=tool", headers=admin_headers
    ).json()
    assert owner["breakdowns"] == {
        "tool": [{"key": "search", "amount_usd": "2.000000", "count": 2, "share": 1.0}]
    }
    series = client.get("/v1/analytics/timeseries?bucket=minute&window=15m", headers=admin_headers).json()
    assert len(series["series"]) == 1 and len(series["series"][0]["points"]) == 15
    assert series["series"][0]["amount_usd"] == "2.000000"


def test_windows_given_with_any_offset_are_the_same_instant(
    client: Any, admin_headers: dict[str, str]
) -> None:
    key = create(client, admin_headers)
    _spend(client, key, "3")
    utc = {"from": "2026-11-23T00:00:00Z", "to": "2026-11-24T00:00:00Z"}
    shifted = {"from": "2026-11-23T01:00:00+01:00", "to": "2026-11-23T19:00:00-05:00"}
    a = client.get("/v1/analytics/summary", params=utc, headers=admin_headers).json()
    b = client.get("/v1/analytics/summary", params=shifted, headers=admin_headers).json()
    assert a == b and a["total_usd"] == "3.000000"
    assert a["window"] == {"from": "2026-11-23T00:00:00Z", "to": "2026-11-24T00:00:00Z"}


BAD = [
    "/v1/analytics/summary?window=2w",
    "/v1/analytics/summary?group_by=planet",
    "/v1/analytics/summary?from=2026-11-23T00:00:30Z&to=2026-11-23T01:00:00Z",
    "/v1/analytics/summary?from=2026-11-23T00:00:00Z",
    "/v1/analytics/summary?from=2026-11-23T00:00:00&to=2026-11-23T01:00:00",
    "/v1/analytics/summary?from=2026-10-01T00:01:00Z&to=2026-10-02T00:00:00Z",
    "/v1/analytics/timeseries?bucket=week",
    "/v1/analytics/timeseries?bucket=minute&window=30d",
    "/v1/reports/billing?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
]


def test_bad_input_gets_the_error_shape(client: Any, admin_headers: dict[str, str]) -> None:
    for query in BAD:
        r = client.get(query, headers=admin_headers)
        assert r.status_code == 422, (query, r.text)
        assert set(r.json()["error"]) == {"code", "message", "details"}


def test_agent_profile(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, caps={"monthly": "100", "daily": "10"})
    _spend(client, key, "2", task_id="t1", rail="llm_api", tool="search")
    r = client.get("/v1/analytics/agents/bot", headers=admin_headers)
    body = r.json()
    assert body["velocity"]["usd_per_hour"] == "8.000000"
    assert body["caps"]["utilization"]["daily"] == 0.2
    assert body["cost_per_task"]["average_usd_7d"] == "2.000000"
    assert body["rail_mix"] == [{"key": "llm_api", "amount_usd": "2.000000", "share": 1.0}]
    assert body["burn"]["monthly_cap_usd"] == "100.000000" and body["burn"]["days_until_empty"] > 0
    assert 0 <= body["anomaly"]["score"] <= 1
    assert client.get("/v1/analytics/agents/nobody", headers=admin_headers).status_code == 404


def test_forecast_and_recommendations(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, owner="acme")
    _spend(client, key, "4.5")
    body = client.get("/v1/analytics/forecast?owner=acme", headers=admin_headers).json()
    assert body["spend_to_date_usd"] == "4.500000"
    assert (body["day_of_month"], body["days_in_month"]) == (23, 30)
    assert body["trend"] in ("increasing", "stable", "decreasing")
    recs = client.get("/v1/analytics/recommendations", headers=admin_headers).json()
    assert [a["agent_id"] for a in recs["agents"]] == ["bot"]
    assert recs["agents"][0]["caps"]["ready"] is False
