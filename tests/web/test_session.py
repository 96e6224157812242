"""Sign-in sessions and CSRF over plain HTTP (no browser), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.clock import FrozenClock, to_us
from spendwarden.db import queries as q
from spendwarden.ledger.admin import create_token
from spendwarden.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent


def sign_in(client: Any, token: str = ADMIN_TOKEN) -> str:
    response = client.post("/web/session", json={"token": token})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def csrf(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


def test_shell_and_vendored_chart_library_are_served(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/static/js/main.js' in page.text
    assert client.get("/login").status_code == 200
    uplot = client.get("/static/vendor/uplot/uPlot.esm.js")
    assert uplot.status_code == 200 and "export" in uplot.text
    assert "MIT" in client.get("/static/vendor/uplot/LICENSE").text


def test_sign_in_sets_a_strict_httponly_cookie(client: Any) -> None:
    response = client.post("/web/session", json={"token": ADMIN_TOKEN})
    assert response.status_code == 200
    assert response.json()["role"] == "admin" and response.json()["read_only"] is False
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http in this test
    assert ADMIN_TOKEN.lower() not in cookie


def test_cookie_is_secure_over_https(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, run_workers=False), base_url="https://testserver") as client:
        response = client.post("/web/session", json={"token": ADMIN_TOKEN})
    assert "secure" in response.headers["set-cookie"].lower()


def test_bad_tokens_get_no_session(client: Any, runtime: Runtime) -> None:
    wrong = client.post("/web/session", json={"token": "nope"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    agent_key = make_agent(runtime.ledger, "bot")
    agent = client.post("/web/session", json={"token": agent_key})
    assert agent.status_code == 403 and "set-cookie" not in agent.headers
    assert client.post("/web/session", json={}).status_code == 422
    assert client.get("/web/session").status_code == 401


def test_session_reads_and_changes_need_the_csrf_header(client: Any, runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot", daily="5.00")
    token = sign_in(client)
    assert client.get("/v1/agents").json()["items"][0]["id"] == "bot"
    assert client.get("/web/session").json()["csrf_token"] == token

    refused = client.post("/v1/agents/bot/halt", json={"reason": "test"})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"header": "X-CSRF-Token"}
    wrong = client.post("/v1/agents/bot/halt", json={"reason": "test"}, headers=csrf("0" * 64))
    assert wrong.status_code == 403
    assert client.get("/v1/agents/bot").json()["status"] == "active"

    done = client.post("/v1/agents/bot/halt", json={"reason": "test"}, headers=csrf(token))
    assert done.status_code == 200
    assert client.get("/v1/agents/bot").json()["status"] == "halted"
    patched = client.patch("/v1/agents/bot", json={"caps": {"daily": "7.50"}}, headers=csrf(token))
    assert patched.status_code == 200 and patched.json()["caps"]["daily"] == "7.500000"


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}],
)
def test_cross_origin_requests_cannot_use_the_cookie(client: Any, headers: dict[str, str]) -> None:
    token = sign_in(client)
    assert client.get("/v1/agents", headers=headers).status_code == 403
    assert client.post("/v1/agents", json={"id": "x"}, headers={**headers, **csrf(token)}).status_code == 403
    assert client.get("/v1/agents", headers={"Origin": "http://testserver"}).status_code == 200
    assert client.post("/web/session", json={"token": ADMIN_TOKEN}, headers=headers).status_code == 403


def test_viewer_session_is_read_only(client: Any, runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot")
    viewer = create_token(runtime.ledger.core, "viewer", "wallboard", actor="test")
    token = sign_in(client, viewer)
    who = client.get("/web/session").json()
    assert who["role"] == "viewer" and who["read_only"] is True
    assert client.get("/v1/agents/bot").status_code == 200
    assert client.get("/v1/transactions").status_code == 200
    halt = client.post("/v1/agents/bot/halt", json={"reason": "x"}, headers=csrf(token))
    assert halt.status_code == 403
    assert (
        client.patch("/v1/agents/bot", json={"caps": {"daily": "1"}}, headers=csrf(token)).status_code == 403
    )
    assert client.get("/v1/agents/bot").json()["status"] == "active"


def test_sign_out_ends_the_session_on_the_server(client: Any) -> None:
    token = sign_in(client)
    stolen = client.cookies.get("sw_session")
    assert client.delete("/web/session").status_code == 403  # CSRF header missing
    out = client.delete("/web/session", headers=csrf(token))
    assert out.status_code == 200 and 'sw_session=""' in out.headers["set-cookie"]
    client.cookies.set("sw_session", stolen)
    ended = client.get("/v1/agents")
    assert ended.status_code == 401
    assert "sign in again" in ended.json()["error"]["message"]


def test_revoking_the_token_ends_its_sessions(client: Any, runtime: Runtime) -> None:
    viewer = create_token(runtime.ledger.core, "viewer", "tv", actor="test")
    sign_in(client, viewer)
    assert client.get("/v1/agents").status_code == 200
    with runtime.store.write() as conn:
        q.revoke_admin_tokens(conn, to_us(runtime.clock.now()), "viewer")
    assert client.get("/v1/agents").status_code == 401


def test_sessions_expire(client: Any, clock: FrozenClock) -> None:
    sign_in(client)
    clock.advance(timedelta(hours=11))
    assert client.get("/v1/agents").status_code == 200
    clock.advance(timedelta(hours=2))
    assert client.get("/v1/agents").status_code == 401


def test_a_bearer_header_wins_over_the_cookie(client: Any, runtime: Runtime) -> None:
    key = make_agent(runtime.ledger, "bot")
    sign_in(client)
    assert (
        client.get("/v1/agents", headers=bearer(key)).status_code == 403
    )  # the agent key, not the admin cookie
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
