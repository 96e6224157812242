"""The agent-key endpoints over HTTP: authorize, settle, void, record, me."""

from __future__ import annotations

from typing import Any

from tests.factories import bearer


def create(client: Any, admin: dict[str, str], agent_id: str = "bot", **body: Any) -> str:
    r = client.post("/v1/agents", json={"id": agent_id, "tier": "custom", **body}, headers=admin)
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"agent", "api_key"}
    return str(r.json()["api_key"])


def test_authorize_settle_flow(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, caps={"daily": "1.00", "per_task": 0.5})
    r = client.post(
        "/v1/authorize", json={"amount_usd": 0.2, "vendor": "openai", "task_id": "t1"}, headers=bearer(key)
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "approved"
    assert body["headroom"] == {"per_task": "0.300000", "daily": "0.800000"}
    s = client.post(
        f"/v1/authorizations/{body['id']}/settle", json={"amount_usd": "0.004500"}, headers=bearer(key)
    )
    assert s.status_code == 200
    assert s.json()["transaction"]["amount_usd"] == "0.004500"
    me = client.get("/v1/me", headers=bearer(key)).json()
    assert me["spend"]["daily"] == "0.004500"
    assert me["headroom"]["daily"] == "0.995500"


def test_denial_names_the_cap(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, caps={"daily": "1.00"})
    r = client.post("/v1/authorize", json={"amount_usd": "1.000001"}, headers=bearer(key))
    assert r.status_code == 402
    assert r.json() == {
        "error": {
            "code": "cap_exceeded",
            "message": "daily cap of 1.000000 USD would be exceeded",
            "details": {"cap": "daily", "limit": "1.000000", "spent": "0.000000", "requested": "1.000001"},
        }
    }


def test_idempotency_header_replays_and_conflicts(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, caps={"daily": "1.00"})
    h = {**bearer(key), "Idempotency-Key": "abc"}
    first = client.post("/v1/authorize", json={"amount_usd": "0.5"}, headers=h)
    again = client.post("/v1/authorize", json={"amount_usd": "0.5"}, headers=h)
    assert again.json() == first.json()
    other = client.post("/v1/authorize", json={"amount_usd": "0.6"}, headers=h)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert client.get("/v1/me", headers=bearer(key)).json()["held"] == "0.500000"


def test_halted_agent_gets_423_until_resumed(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers)
    assert client.post("/v1/agents/bot/halt", json={}, headers=admin_headers).status_code == 422
    assert (
        client.post("/v1/agents/bot/halt", json={"reason": "looks odd"}, headers=admin_headers).status_code
        == 200
    )
    r = client.post("/v1/authorize", json={"amount_usd": "0.01"}, headers=bearer(key))
    assert r.status_code == 423 and r.json()["error"]["code"] == "agent_halted"
    client.post("/v1/agents/bot/resume", json={"reason": "checked"}, headers=admin_headers)
    assert client.post("/v1/authorize", json={"amount_usd": "0.01"}, headers=bearer(key)).status_code == 200


def test_record_dedupes_on_external_id_and_lists_with_filters(
    client: Any, admin_headers: dict[str, str]
) -> None:
    key = create(client, admin_headers)
    body = {
        "amount_usd": "0.25",
        "rail": "x402",
        "vendor": "weather",
        "external_id": "tx-1",
        "occurred_at": "2026-11-23T11:00:00Z",
    }
    first = client.post("/v1/transactions", json=body, headers=bearer(key))
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = client.post("/v1/transactions", json=body, headers=bearer(key))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    for i in range(5):
        client.post("/v1/transactions", json={"amount_usd": "0.01", "tool": f"t{i % 2}"}, headers=bearer(key))
    page = client.get(
        "/v1/transactions", params={"agent_id": "bot", "limit": 2}, headers=admin_headers
    ).json()
    assert len(page["items"]) == 2 and page["next"]
    seen = [i["id"] for i in page["items"]]
    while page["next"]:
        page = client.get(
            "/v1/transactions",
            params={"agent_id": "bot", "limit": 2, "cursor": page["next"]},
            headers=admin_headers,
        ).json()
        seen += [i["id"] for i in page["items"]]
    assert len(seen) == len(set(seen)) == 6
    x402 = client.get("/v1/transactions", params={"rail": "x402"}, headers=admin_headers).json()["items"]
    assert [t["external_id"] for t in x402] == ["tx-1"]
    timed = client.get(
        "/v1/transactions", params={"until": "2026-11-23T11:30:00Z"}, headers=admin_headers
    ).json()
    assert [t["external_id"] for t in timed["items"]] == ["tx-1"]


def test_void_and_unknown_authorization(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers)
    hold = client.post("/v1/authorize", json={"amount_usd": "0.5"}, headers=bearer(key)).json()
    assert (
        client.post(f"/v1/authorizations/{hold['id']}/void", headers=bearer(key)).json()["status"] == "voided"
    )
    missing = client.post("/v1/authorizations/auth_nope/settle", json={"amount_usd": 1}, headers=bearer(key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_halt_rule_amounts_are_usd_on_the_wire(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers, halt_rules={"max_single_charge": "0.25"})
    agent = client.get("/v1/agents/bot", headers=admin_headers).json()
    assert agent["halt_rules"] == {"max_single_charge": "0.250000"}
    client.post("/v1/transactions", json={"amount_usd": "0.30"}, headers=bearer(key))
    assert client.get("/v1/agents/bot", headers=admin_headers).json()["status"] == "halted"
    bad = client.patch(
        "/v1/agents/bot", json={"halt_rules": {"max_single_charge": "-1"}}, headers=admin_headers
    )
    assert bad.status_code == 422
    typo = client.patch("/v1/agents/bot", json={"halt_rules": {"max_single_charg": 1}}, headers=admin_headers)
    assert typo.status_code == 422 and "max_single_charg" in typo.json()["error"]["message"]
