"""POST /v1/ingest/events: per-line results, exact dedupe, bad input refused line by line."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from spendwarden.ledger.admin import create_token
from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent


def ndjson(*events: Any) -> bytes:
    return "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events).encode()


def post(client: TestClient, body: bytes, headers: dict[str, str], kind: str = "application/x-ndjson") -> Any:
    return client.post("/v1/ingest/events", content=body, headers={**headers, "Content-Type": kind})


def test_bad_lines_never_drop_good_ones_and_redelivery_is_harmless(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    make_agent(runtime.ledger, "a")
    body = ndjson(
        {"agent_id": "a", "amount_usd": "0.25", "external_id": "e1", "vendor": "openai"},
        "{not json",
        {"agent_id": "ghost", "amount_usd": "1", "external_id": "e2"},
        {"agent_id": "a", "amount_usd": "0.10", "currency": "EUR", "external_id": "e3"},
        {"agent_id": "a", "amount_usd": "-1", "external_id": "e4"},
        {"agent_id": "a", "amount_usd": "99999999999999", "external_id": "e5"},
        {"agent_id": "a", "amount_usd": "0.25", "external_id": "e1"},
        "",
        {"agent_id": "a", "amount": "0.25"},
        {"agent_id": "a", "amount_usd": "0.50", "external_id": "e9"},
    )
    answer = post(client, body, admin_headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    codes = {r["line"]: (r["status"], r.get("error", {}).get("code")) for r in data["results"]}
    assert codes == {
        1: ("accepted", None),
        2: ("rejected", "invalid_json"),
        3: ("rejected", "unknown_agent"),
        4: ("rejected", "unsupported_currency"),
        5: ("rejected", "invalid_amount"),
        6: ("rejected", "invalid_amount"),
        7: ("duplicate", None),
        9: ("rejected", "unknown_field"),
        10: ("accepted", None),
    }
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (2, 1, 6)
    again = post(client, body, admin_headers).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert runtime.ledger.view("a")["spend"]["daily"] == "0.750000"
    assert runtime.ledger.verify()["ok"]


def test_json_array_and_usage_priced(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    make_agent(runtime.ledger, "a")
    events = [
        {
            "agent_id": "a",
            "usage": {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500},
        },
        {"agent_id": "a", "usage": {"model": "no-such-model", "input_tokens": 1}},
    ]
    data = post(client, json.dumps(events).encode(), admin_headers, "application/json").json()
    assert data["results"][0]["status"] == "accepted"
    assert data["results"][1]["error"]["code"] == "price_unknown"
    assert runtime.ledger.view("a")["spend"]["daily"] == "0.007500"


def test_whole_body_errors(runtime: Runtime, client: TestClient, admin_headers: dict[str, str]) -> None:
    malformed = post(client, b'[{"agent_id": "a",', admin_headers, "application/json")
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_json"
    empty = post(client, b"\n\n", admin_headers)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_body"
    key = make_agent(runtime.ledger, "a")
    assert post(client, b"{}", bearer(key)).status_code == 403
    assert post(client, b"{}", {}).status_code == 401


def test_oversized_body_is_refused(
    runtime: Runtime, client: TestClient, admin_headers: dict[str, str]
) -> None:
    size = runtime.settings.ingest_max_body_bytes + 1
    answer = post(client, b" " * size, admin_headers)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_ingest_token_is_limited_to_its_source(runtime: Runtime, client: TestClient) -> None:
    make_agent(runtime.ledger, "a")
    token = create_token(runtime.ledger.core, "ingest", "source:importer-1", actor="test")
    body = ndjson(
        {"agent_id": "a", "amount_usd": "0.01", "external_id": "1"},
        {"agent_id": "a", "amount_usd": "0.01", "external_id": "2", "source": "importer-1"},
        {"agent_id": "a", "amount_usd": "0.01", "external_id": "3", "source": "stripe"},
    )
    data = post(client, body, bearer(token)).json()
    assert [r["status"] for r in data["results"]] == ["accepted", "accepted", "rejected"]
    assert data["results"][2]["error"]["code"] == "source_forbidden"
    rows = client.get(
        "/v1/transactions", headers={"Authorization": "Bearer test-admin-token-0123456789abcdef"}
    ).json()
    assert {t["source"] for t in rows["items"]} == {"importer-1"}
