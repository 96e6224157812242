"""Who may call what: agent keys reach only their own agent, admin endpoints need the admin token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_spend_api import create
from tests.factories import bearer

ADMIN_ROUTES = [
    ("post", "/v1/agents", {"id": "x"}),
    ("get", "/v1/agents", None),
    ("get", "/v1/agents/bot", None),
    ("patch", "/v1/agents/bot", {"caps": {"daily": "9"}}),
    ("post", "/v1/agents/bot/halt", {"reason": "r"}),
    ("post", "/v1/agents/bot/resume", {"reason": "r"}),
    ("post", "/v1/agents/bot/revoke", {"reason": "r"}),
    ("get", "/v1/agents/bot/keys", None),
    ("post", "/v1/agents/bot/keys", {}),
    ("get", "/v1/transactions", None),
    ("get", "/v1/ledger/verify", None),
    ("get", "/v1/audit", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_agent_key_never_reaches_admin_endpoints(
    client: Any, admin_headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    key = create(client, admin_headers)
    r = client.request(method.upper(), path, json=body, headers=bearer(key))
    assert r.status_code == 403, (path, r.text)
    assert r.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/agents/bot", headers=admin_headers).json()["status"] == "active"


def test_admin_token_cannot_use_agent_endpoints(client: Any, admin_headers: dict[str, str]) -> None:
    r = client.post("/v1/authorize", json={"amount_usd": "0.01"}, headers=admin_headers)
    assert r.status_code == 403


def test_an_agent_cannot_touch_another_agents_authorization(
    client: Any, admin_headers: dict[str, str]
) -> None:
    a = create(client, admin_headers, "alice")
    b = create(client, admin_headers, "bob")
    hold = client.post("/v1/authorize", json={"amount_usd": "0.5"}, headers=bearer(a)).json()
    for action, body in (("settle", {"amount_usd": "0.5"}), ("void", None)):
        r = client.post(f"/v1/authorizations/{hold['id']}/{action}", json=body, headers=bearer(b))
        assert r.status_code == 404
    assert client.get("/v1/me", headers=bearer(b)).json()["id"] == "bob"
    assert client.get("/v1/me", headers=bearer(a)).json()["held"] == "0.500000"


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer sw_agent_unknown", "Bearer nope"])
def test_missing_or_wrong_credentials_get_401(client: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.post("/v1/authorize", json={"amount_usd": "0.01"}, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] in ("unauthenticated",)


def test_revoked_key_and_revoked_agent_fail_on_the_very_next_request(
    client: Any, admin_headers: dict[str, str]
) -> None:
    first = create(client, admin_headers)
    second = client.post("/v1/agents/bot/keys", json={"label": "rotation"}, headers=admin_headers).json()
    keys = client.get("/v1/agents/bot/keys", headers=admin_headers).json()["items"]
    assert len(keys) == 2
    client.post(
        f"/v1/agents/bot/keys/{keys[0]['id']}/revoke", json={"reason": "rotated"}, headers=admin_headers
    )
    assert client.get("/v1/me", headers=bearer(first)).json()["error"]["code"] == "key_revoked"
    assert client.get("/v1/me", headers=bearer(second["api_key"])).status_code == 200
    client.post("/v1/agents/bot/revoke", json={"reason": "compromised"}, headers=admin_headers)
    r = client.get("/v1/me", headers=bearer(second["api_key"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "agent_revoked"
    actions = [i["action"] for i in client.get("/v1/audit", headers=admin_headers).json()["items"]]
    assert actions[:3] == ["agent.revoked", "key.revoked", "key.issued"]


def test_viewer_token_reads_but_cannot_act(client: Any, admin_headers: dict[str, str], runtime: Any) -> None:
    from spendwarden.ledger.admin import create_token

    create(client, admin_headers)
    viewer = create_token(runtime.ledger.core, "viewer", "wallboard", actor="test")
    assert client.get("/v1/agents", headers=bearer(viewer)).status_code == 200
    assert client.post("/v1/agents/bot/halt", json={"reason": "x"}, headers=bearer(viewer)).status_code == 403
