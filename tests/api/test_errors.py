"""Bad input gets a clear error in the documented shape and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_spend_api import create
from tests.factories import bearer


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (-1, "invalid_amount"),
        ("-0.01", "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("Infinity", "invalid_amount"),
        ("0.0000001", "invalid_amount"),
        ("1e300", "invalid_amount"),
        ("abc", "invalid_amount"),
        (None, "invalid_amount"),
        (True, "invalid_amount"),
        ([1], "invalid_amount"),
    ],
)
def test_bad_amounts_are_422_and_write_nothing(
    client: Any, admin_headers: dict[str, str], amount: Any, code: str
) -> None:
    key = create(client, admin_headers)
    r = client.post("/v1/authorize", json={"amount_usd": amount}, headers=bearer(key))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == code
    assert client.get("/v1/me", headers=bearer(key)).json()["held"] == "0.000000"
    assert (
        client.post("/v1/transactions", json={"amount_usd": amount}, headers=bearer(key)).status_code == 422
    )
    assert client.get("/v1/transactions", headers=admin_headers).json()["items"] == []


def test_invalid_json_unknown_fields_and_shapes(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers)
    h = {**bearer(key), "content-type": "application/json"}
    bad = client.post("/v1/authorize", content=b'{"amount_usd": ', headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_json"
    extra = client.post("/v1/authorize", json={"amount_usd": "1", "surprise": 1}, headers=h)
    assert extra.status_code == 422 and extra.json()["error"]["code"] == "invalid_request"
    arr = client.post("/v1/authorize", json=[1, 2], headers=h)
    assert arr.status_code == 422
    nested: Any = {}
    for _ in range(200):
        nested = {"a": nested}
    deep = client.post("/v1/authorize", json={"amount_usd": "1", "metadata": nested}, headers=h)
    assert deep.status_code in (200, 422)


def test_oversized_body_is_413(client: Any, admin_headers: dict[str, str]) -> None:
    key = create(client, admin_headers)
    huge = b'{"amount_usd": "1", "description": "' + b"x" * 2_000_000 + b'"}'
    r = client.post(
        "/v1/transactions", content=huge, headers={**bearer(key), "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_unknown_agent_and_routes_are_404_in_the_error_shape(
    client: Any, admin_headers: dict[str, str]
) -> None:
    r = client.get("/v1/agents/nobody", headers=admin_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "agent_not_found"
    assert client.get("/v1/nothing-here", headers=admin_headers).json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("agent_id", ["", "UPPER", "a" * 65, "has space", "../etc"])
def test_bad_agent_ids_are_refused(client: Any, admin_headers: dict[str, str], agent_id: str) -> None:
    r = client.post("/v1/agents", json={"id": agent_id}, headers=admin_headers)
    assert r.status_code == 422


def test_duplicate_agent_is_409(client: Any, admin_headers: dict[str, str]) -> None:
    create(client, admin_headers)
    r = client.post("/v1/agents", json={"id": "bot"}, headers=admin_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "agent_exists"
