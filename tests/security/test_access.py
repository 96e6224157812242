"""Who may call what, for EVERY route the app has (found by walking it, so a route added
later is covered without editing this file): agent keys never reach admin routes nor
another agent's money, viewer tokens never write, revoked credentials fail everywhere at
once, and keys are found by hash."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from spendwarden.db.tables.core import agent_keys, audit_log
from spendwarden.ledger.admin import create_token, rotate_admin_token
from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent
from tests.security.routes import RouteInfo, api_routes

# Routes that need no bearer credential by design: health, the dashboard's sign-in pages,
# the OpenAPI document, and inbound webhooks (which verify their own signatures).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/web/session"),
    ("DELETE", "/web/session"),
    ("GET", "/metrics"),
    ("POST", "/v1/webhooks/stripe"),
    ("POST", "/v1/webhooks/x402"),
    ("POST", "/v1/webhooks/l402"),
}
STREAMS = {"/v1/stream"}  # never-ending responses: only their refusals are probed here
BODY = {"reason": "probe", "amount_usd": "1", "id": "probe", "label": "probe"}


@pytest.fixture
def routes(client: Any) -> list[RouteInfo]:
    found = api_routes(client.app)
    assert len(found) >= 30, "route discovery found suspiciously few routes"
    return found


@pytest.fixture
def two_agents(runtime: Runtime) -> dict[str, str]:
    return {
        "alice": make_agent(runtime.ledger, "alice", daily="100"),
        "bob": make_agent(runtime.ledger, "bob", daily="100"),
    }


def call(client: Any, route: RouteInfo, headers: dict[str, str], **params: str) -> Any:
    url = route.url(agent_id=params.get("agent_id", "bob"), **params)
    body = None if route.method in ("GET", "DELETE") else BODY
    return client.request(route.method, url, json=body, headers=headers)


def test_every_route_is_guarded_or_deliberately_public(routes: list[RouteInfo]) -> None:
    unguarded = {(r.method, r.path) for r in routes if r.guard == "none"}
    assert unguarded <= PUBLIC, f"routes without an auth guard: {sorted(unguarded - PUBLIC)}"


def test_agent_key_is_refused_on_every_admin_and_viewer_route(
    client: Any, runtime: Runtime, routes: list[RouteInfo], two_agents: dict[str, str]
) -> None:
    admin_only = [r for r in routes if r.guard in ("admin", "viewer")]
    with runtime.store.read() as conn:
        audit_before = len(conn.execute(select(audit_log.c.id)).all())
        keys_before = len(conn.execute(select(agent_keys.c.id)).all())
    for route in admin_only:
        r = call(client, route, bearer(two_agents["alice"]))
        assert r.status_code in (403, 404), (route, r.status_code, r.text)
        if r.status_code == 403:
            assert r.json()["error"]["code"] == "forbidden"
    with runtime.store.read() as conn:
        assert len(conn.execute(select(audit_log.c.id)).all()) == audit_before
        assert len(conn.execute(select(agent_keys.c.id)).all()) == keys_before
    assert runtime.ledger.view("bob")["status"] == "active"


def test_viewer_token_is_refused_on_every_write_and_admin_route(
    client: Any, runtime: Runtime, routes: list[RouteInfo], two_agents: dict[str, str]
) -> None:
    viewer = bearer(create_token(runtime.ledger.core, "viewer", "probe", actor="test"))
    for route in routes:
        if route.guard == "admin" or (route.guard == "viewer" and route.method != "GET"):
            r = call(client, route, viewer)
            assert r.status_code == 403, (route, r.status_code, r.text)
        elif route.guard == "agent":
            assert call(client, route, viewer).status_code == 403, route
    assert runtime.ledger.view("bob")["status"] == "active"
    reads = [
        r
        for r in routes
        if r.guard == "viewer" and r.method == "GET" and "{" not in r.path and r.path not in STREAMS
    ]
    for route in reads:
        # the viewer gets in (a route may still want parameters: 422 is about input, not access)
        assert call(client, route, viewer).status_code in (200, 422), route


def test_an_agent_cannot_read_or_move_another_agents_money(
    client: Any, routes: list[RouteInfo], two_agents: dict[str, str]
) -> None:
    alice, bob = bearer(two_agents["alice"]), bearer(two_agents["bob"])
    hold = client.post("/v1/authorize", json={"amount_usd": "2"}, headers=bob).json()
    settled_hold = client.post("/v1/authorize", json={"amount_usd": "1"}, headers=bob).json()
    client.post(f"/v1/authorizations/{settled_hold['id']}/settle", json={"amount_usd": "1"}, headers=bob)
    agent_routes = [r for r in routes if r.guard == "agent" and "{" in r.path]
    assert agent_routes, "expected agent routes with path parameters"
    for route in agent_routes:
        for target in (hold["id"], settled_hold["id"]):
            r = call(client, route, alice, authorization_id=target)
            assert r.status_code in (404, 422), (route, r.status_code, r.text)
    me = client.get("/v1/me", headers=bob).json()
    assert me["held"] == "2.000000"
    assert me["spend"]["daily"] == "1.000000"
    assert client.get("/v1/me", headers=alice).json()["spend"]["daily"] == "0.000000"
    # The agent id always comes from the key, never from the body.
    r = client.post("/v1/transactions", json={"amount_usd": "1", "agent_id": "bob"}, headers=alice)
    assert r.status_code == 422


def test_a_revoked_agent_fails_on_every_route_at_once(
    client: Any, admin_headers: dict[str, str], routes: list[RouteInfo], two_agents: dict[str, str]
) -> None:
    second = client.post("/v1/agents/bob/keys", json={}, headers=admin_headers).json()
    keys = [two_agents["bob"], _secret_of(second)]
    r = client.post("/v1/agents/bob/revoke", json={"reason": "drill"}, headers=admin_headers)
    assert r.status_code == 200
    for key in keys:
        for route in routes:
            if route.guard == "none":
                continue
            r = call(client, route, bearer(key), authorization_id="auth_x")
            assert r.status_code == 401, (route, r.status_code, r.text)
            assert r.json()["error"]["code"] == "agent_revoked"
    assert client.get("/v1/me", headers=bearer(two_agents["alice"])).status_code == 200


def test_a_revoked_key_fails_everywhere_while_the_agents_other_key_works(
    client: Any, admin_headers: dict[str, str], routes: list[RouteInfo], two_agents: dict[str, str]
) -> None:
    keys = client.get("/v1/agents/bob/keys", headers=admin_headers).json()
    first = (keys["items"] if isinstance(keys, dict) else keys)[0]
    second = _secret_of(client.post("/v1/agents/bob/keys", json={}, headers=admin_headers).json())
    r = client.post(f"/v1/agents/bob/keys/{first['id']}/revoke", json={}, headers=admin_headers)
    assert r.status_code == 200, r.text
    for route in routes:
        if route.guard in ("agent", "any", "viewer", "admin"):
            r = call(client, route, bearer(two_agents["bob"]), authorization_id="auth_x")
            assert r.status_code == 401, (route, r.status_code)
            assert r.json()["error"]["code"] == "key_revoked"
    assert client.post("/v1/authorize", json={"amount_usd": "1"}, headers=bearer(second)).status_code == 200


def test_a_rotated_admin_token_fails_everywhere_at_once(
    client: Any, runtime: Runtime, routes: list[RouteInfo]
) -> None:
    old = create_token(runtime.ledger.core, "admin", "old", actor="test")
    assert client.get("/v1/agents", headers=bearer(old)).status_code == 200
    new = rotate_admin_token(runtime.ledger.core, actor="test")
    for route in routes:
        if route.guard in ("admin", "viewer"):
            r = call(client, route, bearer(old))
            assert r.status_code == 401, (route, r.status_code)
    assert client.get("/v1/agents", headers=bearer(new)).status_code == 200


def test_keys_are_stored_hashed_and_a_near_miss_key_fails(
    client: Any, runtime: Runtime, two_agents: dict[str, str]
) -> None:
    key = two_agents["alice"]
    with runtime.store.read() as conn:
        stored = [dict(r) for r in conn.execute(select(agent_keys)).mappings()]
    secret_part = key[len("sw_agent_") :]
    assert all(key not in str(v) and secret_part not in str(v) for r in stored for v in r.values())
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    for wrong in (flipped, key[:-1], key + "x", key[:15] + "0" * (len(key) - 15), key.upper()):
        r = client.get("/v1/me", headers=bearer(wrong))
        assert r.status_code == 401, wrong
        assert r.json()["error"]["code"] == "unauthenticated"
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200


def test_comparisons_of_secrets_are_constant_time() -> None:
    """Lookup is by SHA-256 (an index hit reveals nothing about the secret), and the final
    comparison goes through ``hmac.compare_digest``."""
    import inspect

    from spendwarden.ledger import admin, auth, keys

    assert "hmac.compare_digest" in inspect.getsource(keys.same_hash)
    assert "same_hash" in inspect.getsource(auth) and "hash_secret(token)" in inspect.getsource(auth)
    assert "same_hash" in inspect.getsource(admin.env_token_principal)
    assert " == " not in inspect.getsource(admin.env_token_principal)


def _secret_of(created: dict[str, Any]) -> str:
    for name in ("api_key", "key", "secret"):
        if isinstance(created.get(name), str):
            return str(created[name])
    raise AssertionError(f"no key in {created}")
