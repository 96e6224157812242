"""Alerts over HTTP: list with filters and cursor pages, read, acknowledge and resolve —
audited, streamed, and with the lifecycle's dedupe rules (acknowledged still dedupes)."""

from __future__ import annotations

from typing import Any

from spendwarden.alerts.lifecycle import raise_alert
from spendwarden.clock import to_us
from spendwarden.ledger.admin import create_token
from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent, spend


def _raise(
    runtime: Runtime, agent_id: str, rule: str, severity: str, key: str
) -> tuple[dict[str, Any], bool]:
    with runtime.store.write() as conn:
        return raise_alert(
            conn,
            agent_id=agent_id,
            rule=rule,
            severity=severity,
            dedupe_key=key,
            title=f"{rule} on {agent_id}",
            message=None,
            figures={"ratio": 4.0},
            at=to_us(runtime.clock.now()),
        )


def _fleet(runtime: Runtime) -> None:
    for agent in ("a", "b"):
        make_agent(runtime.ledger, agent)
    _raise(runtime, "a", "velocity_spike", "warning", "v:a")
    _raise(runtime, "a", "off_hours", "info", "o:a")
    _raise(runtime, "b", "runaway_loop", "critical", "r:b")


def test_list_filters_and_pages(client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    _fleet(runtime)
    everything = client.get("/v1/alerts", headers=admin_headers).json()
    assert [a["rule"] for a in everything["items"]] == ["runaway_loop", "off_hours", "velocity_spike"]
    assert everything["next"] is None
    by_agent = client.get("/v1/alerts", params={"agent_id": "a", "severity": "info"}, headers=admin_headers)
    assert [a["rule"] for a in by_agent.json()["items"]] == ["off_hours"]
    assert client.get("/v1/alerts", params={"rule": "runaway_loop"}, headers=admin_headers).json()["items"][
        0
    ]["figures"] == {"ratio": 4.0}
    page1 = client.get("/v1/alerts", params={"limit": 2}, headers=admin_headers).json()
    page2 = client.get(
        "/v1/alerts", params={"limit": 2, "cursor": page1["next"]}, headers=admin_headers
    ).json()
    assert [a["rule"] for a in page1["items"] + page2["items"]] == [
        "runaway_loop",
        "off_hours",
        "velocity_spike",
    ]
    bad = client.get("/v1/alerts", params={"status": "closed"}, headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_ack_then_resolve_is_audited_and_dedupes_until_resolved(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    _fleet(runtime)
    alert = client.get("/v1/alerts", params={"rule": "runaway_loop"}, headers=admin_headers).json()["items"][
        0
    ]
    acked = client.post(f"/v1/alerts/{alert['id']}/ack", json={"reason": "looking"}, headers=admin_headers)
    assert acked.status_code == 200
    body = acked.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"].startswith("admin:")
    again, new = _raise(runtime, "b", "runaway_loop", "critical", "r:b")
    assert not new and again["id"] == alert["id"] and again["occurrences"] == 2
    resolved = client.post(f"/v1/alerts/{alert['id']}/resolve", headers=admin_headers).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert (
        client.post(f"/v1/alerts/{alert['id']}/resolve", headers=admin_headers).json()["status"] == "resolved"
    )
    late = client.post(f"/v1/alerts/{alert['id']}/ack", headers=admin_headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_state"
    fresh, new = _raise(runtime, "b", "runaway_loop", "critical", "r:b")
    assert new and fresh["id"] != alert["id"]
    audit = client.get("/v1/audit", params={"target_id": alert["id"]}, headers=admin_headers).json()["items"]
    assert [(e["action"], e["reason"], e["after"]) for e in audit] == [
        ("alert.resolved", None, {"status": "resolved"}),
        ("alert.acknowledged", "looking", {"status": "acknowledged"}),
    ]
    detail = client.get(f"/v1/alerts/{alert['id']}", headers=admin_headers).json()
    assert detail["status"] == "resolved" and detail["deliveries"] == []


def test_viewer_reads_agent_and_viewer_cannot_act(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    _fleet(runtime)
    viewer = bearer(create_token(runtime.ledger.core, "viewer", "wall", actor="test"))
    alert_id = client.get("/v1/alerts", headers=viewer).json()["items"][0]["id"]
    assert client.get(f"/v1/alerts/{alert_id}", headers=viewer).status_code == 200
    assert client.post(f"/v1/alerts/{alert_id}/ack", headers=viewer).status_code == 403
    agent = bearer(make_agent(runtime.ledger, "c"))
    assert client.get("/v1/alerts", headers=agent).status_code == 403
    missing = client.post("/v1/alerts/alr_nope/resolve", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_halt_alert_from_the_ledger_is_listed_with_its_context(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    make_agent(runtime.ledger, "bot", daily="1.00")
    runtime.ledger.record(spend("bot", "2.00", vendor="openai"))
    (alert,) = client.get("/v1/alerts", params={"rule": "cap_breach"}, headers=admin_headers).json()["items"]
    assert alert["severity"] == "critical" and alert["figures"]["headroom"]["daily"] == "0.000000"
    assert alert["figures"]["last_actions"][0]["amount_usd"] == "2.000000"
