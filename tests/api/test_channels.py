"""Channels over HTTP: create (secrets shown once), list masked, patch, delete, all audited;
bad configs refused."""

from __future__ import annotations

from typing import Any

from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent


def test_channel_crud(client: Any, admin_headers: dict[str, str]) -> None:
    r = client.post(
        "/v1/channels",
        json={
            "type": "webhook",
            "name": "ops",
            "config": {"url": "https://hooks.example/x"},
            "min_severity": "info",
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["config"]["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    cid = created["id"]
    listed = client.get("/v1/channels", headers=admin_headers).json()["items"]
    assert listed[0]["config"] == {"url": "https://hooks.example/x", "secret": "…" + secret[-4:]}
    patched = client.patch(
        f"/v1/channels/{cid}",
        json={"enabled": False, "config": {"url": "https://hooks.example/y"}},
        headers=admin_headers,
    ).json()
    assert patched["enabled"] is False and patched["config"]["url"] == "https://hooks.example/y"
    assert patched["config"]["secret"] == "…" + secret[-4:]  # kept on a partial config change
    assert client.get(f"/v1/channels/{cid}/deliveries", headers=admin_headers).json() == {
        "items": [],
        "next": None,
    }
    assert client.delete(f"/v1/channels/{cid}", headers=admin_headers).status_code == 204
    assert client.get(f"/v1/channels/{cid}", headers=admin_headers).status_code == 404
    audit = client.get("/v1/audit", params={"target_id": cid}, headers=admin_headers).json()["items"]
    assert [e["action"] for e in audit] == ["channel.deleted", "channel.updated", "channel.created"]
    assert secret not in str(audit)


def test_bad_channels_are_refused(client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    cases = [
        {"type": "sms", "config": {}},
        {"type": "slack", "config": {"url": "not a url"}},
        {"type": "telegram", "config": {"bot_token": "123:abc"}},
        {"type": "pagerduty", "config": {"routing_key": "k", "extra": 1}},
        {"type": "webhook", "config": {"url": "https://x.example", "secret": "short"}},
        {"type": "webhook", "config": {"url": "https://x.example"}, "min_severity": "panic"},
    ]
    for body in cases:
        r = client.post("/v1/channels", json=body, headers=admin_headers)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid_request"
    assert client.get("/v1/channels", headers=admin_headers).json()["items"] == []
    agent = bearer(make_agent(runtime.ledger, "bot"))
    assert client.get("/v1/channels", headers=agent).status_code == 403
    telegram = client.post(
        "/v1/channels",
        json={"type": "telegram", "config": {"bot_token": "123456:ABCdef", "chat_id": 42}},
        headers=admin_headers,
    ).json()
    assert (
        telegram["config"]["api_url"] == "https://api.telegram.org" and telegram["min_severity"] == "warning"
    )
