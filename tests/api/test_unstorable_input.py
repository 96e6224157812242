"""Input no store can hold, found by fuzzing: text with NUL (PostgreSQL refuses it in text),
moments that leave the calendar once converted to UTC, cursors beyond 64 bits and ``null``
for settings that always have a value. Each is a 422 in the documented shape on both
backends, and changes nothing; a bulk body loses only its bad lines."""

from __future__ import annotations

from typing import Any

import pytest

from spendwarden.ingest.stripe_events import map_stripe_event
from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent


@pytest.fixture
def key(runtime: Runtime) -> str:
    return make_agent(runtime.ledger, "bot", daily="10")


def _refused(response: Any, words: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request", error
    assert words in error["message"], error


def _untouched(runtime: Runtime) -> None:
    view = runtime.ledger.view("bot")
    assert view["held"] == "0.000000" and view["spend"]["total"] == "0.000000"
    assert view["labels"] == {} and view["caps"] == {"daily": "10.000000"}


@pytest.mark.parametrize(
    ("method", "path", "body", "as_agent"),
    [
        ("post", "/v1/authorize", {"amount_usd": "1", "vendor": "open\x00ai"}, True),
        ("post", "/v1/authorize", {"amount_usd": "1", "metadata": {"k": ["a\x00"]}}, True),
        ("post", "/v1/transactions", {"amount_usd": "1", "tool": "\x00"}, True),
        ("post", "/v1/agents", {"id": "other", "tier": "custom", "name": "a\x00b"}, False),
        ("patch", "/v1/agents/bot", {"labels": {"team\x00": "x"}}, False),
        ("patch", "/v1/agents/bot", {"policy": {"allowed_vendors": ["a\x00"]}}, False),
    ],
    ids=["authorize-vendor", "authorize-metadata", "transaction-tool", "agent-name", "label-key", "policy"],
)
def test_text_holding_nul_is_refused_and_changes_nothing(
    client: Any,
    runtime: Runtime,
    key: str,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    as_agent: bool,
) -> None:
    headers = bearer(key) if as_agent else admin_headers
    _refused(getattr(client, method)(path, json=body, headers=headers), "NUL (U+0000)")
    _untouched(runtime)
    assert client.get("/v1/agents/other", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(
    "path", ["/v1/transactions?vendor=a%00b", "/v1/agents/b%00t", "/v1/audit?action=%00"]
)
def test_a_path_or_query_holding_nul_is_refused(
    client: Any, admin_headers: dict[str, str], path: str
) -> None:
    _refused(client.get(path, headers=admin_headers), "NUL (U+0000)")


def test_an_ingest_line_holding_nul_is_rejected_alone(
    client: Any, runtime: Runtime, key: str, admin_headers: dict[str, str]
) -> None:
    lines = [
        '{"agent_id": "bot", "amount_usd": "0.5", "source": "s", "external_id": "good"}',
        '{"agent_id": "bot", "amount_usd": "0.5", "source": "s", "external_id": "bad\\u0000id"}',
        '{"agent_id": "bot", "amount_usd": "0.5", "source": "s", "metadata": {"\\u0000": 1}}',
    ]
    r = client.post(
        "/v1/ingest/events",
        content="\n".join(lines).encode(),
        headers={**admin_headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == 2, body
    errors = [item["error"] for item in body["results"] if item["status"] == "rejected"]
    assert all("NUL (U+0000)" in e["message"] for e in errors), errors
    assert runtime.ledger.view("bot")["spend"]["total"] == "0.500000"


def test_stripe_free_text_holding_nul_is_kept_without_it() -> None:
    """Stripe wrote it, not the caller: cut to what can be stored rather than refused."""
    event = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "amount_received": 1250,
                "currency": "usd",
                "created": 1_700_000_000,
                "description": "tool\x00 call",
                "metadata": {"spendwarden_agent": "bot", "vendor": "\x00acme"},
            }
        },
    }
    (spend,) = map_stripe_event(event, lambda obj: None)
    assert spend.description == "tool call" and spend.vendor == "acme"


def test_a_moment_that_leaves_the_calendar_in_utc_is_refused(
    client: Any, admin_headers: dict[str, str]
) -> None:
    r = client.get("/v1/transactions", params={"until": "0001-01-01T00:00:00+12:26"}, headers=admin_headers)
    _refused(r, "out of range once converted to UTC")
    r = client.get(
        "/v1/reports/billing",
        params={"from": "9999-12-31T23:00:00-05:00", "to": "9999-12-31T23:30:00-05:00"},
        headers=admin_headers,
    )
    _refused(r, "out of range once converted to UTC")


def test_a_cursor_beyond_64_bits_is_refused(client: Any, admin_headers: dict[str, str]) -> None:
    _refused(client.get("/v1/audit", params={"cursor": 2**70}, headers=admin_headers), "cursor")


@pytest.mark.parametrize(
    "field", ["name", "caps", "halt_rules", "policy", "labels", "signals", "owner", "tier", "silence_minutes"]
)
def test_null_for_a_setting_that_always_has_a_value_is_refused(
    client: Any, runtime: Runtime, key: str, admin_headers: dict[str, str], field: str
) -> None:
    r = client.patch(
        "/v1/agents/bot",
        json={field: None, "owner": "x"} if field != "owner" else {field: None},
        headers=admin_headers,
    )
    _refused(r, f"{field} cannot be null")
    _untouched(runtime)


def test_null_still_clears_what_can_be_cleared(client: Any, key: str, admin_headers: dict[str, str]) -> None:
    client.patch("/v1/agents/bot", json={"task_scope": {"max_calls": 5}}, headers=admin_headers)
    r = client.patch("/v1/agents/bot", json={"active_hours": None, "task_scope": None}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["active_hours"] is None and r.json()["task_scope"] is None


def test_the_longest_custom_price_is_stored_and_audited(client: Any, admin_headers: dict[str, str]) -> None:
    """Its audit row names ``<provider>/<model>`` (265 characters): PostgreSQL refused that
    in a 200-character column, SQLite ignored the length (migration 0012)."""
    body = {"provider": "p" * 64, "model": "m" * 200, "input_per_mtok": "1", "output_per_mtok": "2"}
    r = client.post("/v1/prices", json=body, headers=admin_headers)
    assert r.status_code in (200, 201), r.text
    audit = client.get("/v1/audit", params={"action": "price.set"}, headers=admin_headers).json()
    assert [item["target_id"] for item in audit["items"]] == [f"{'p' * 64}/{'m' * 200}"]


def test_the_longest_task_id_is_counted_on_every_path(
    client: Any, runtime: Runtime, key: str, admin_headers: dict[str, str]
) -> None:
    """A task's counter keeps the task id (up to 200 characters) as its period, which held
    80: PostgreSQL refused the rest (migration 0012)."""
    task = "t" * 200
    hold = client.post("/v1/authorize", json={"amount_usd": "1", "task_id": task}, headers=bearer(key))
    assert hold.status_code == 200, hold.text
    r = client.post(
        f"/v1/authorizations/{hold.json()['id']}/settle", json={"amount_usd": "1"}, headers=bearer(key)
    )
    assert r.status_code == 200, r.text
    r = client.post("/v1/transactions", json={"amount_usd": "2", "task_id": task}, headers=bearer(key))
    assert r.status_code in (200, 201), r.text
    line = {"agent_id": "bot", "amount_usd": "3", "task_id": task, "source": "s", "external_id": "x"}
    r = client.post("/v1/ingest/events", json=[line], headers=admin_headers)
    assert r.json()["accepted"] == 1, r.text
    assert runtime.ledger.view("bot")["spend"]["total"] == "6.000000"


def test_text_longer_than_its_column_is_refused_alone(
    client: Any, runtime: Runtime, key: str, admin_headers: dict[str, str]
) -> None:
    """SQLite ignores a VARCHAR's length, PostgreSQL refused the value: a 500, and in bulk the
    good events went with it. Now the spend alone is refused, alike on both (ledger/fits.py)."""
    r = client.post("/v1/authorize", json={"amount_usd": "1", "rail": "r" * 41}, headers=bearer(key))
    _refused(r, "rail")
    good = {"agent_id": "bot", "amount_usd": "0.5", "source": "s", "external_id": "good"}
    lines = [
        good,
        {**good, "external_id": "v", "vendor": "v" * 201},
        {**good, "external_id": "e", "endpoint": "e" * 501},
        {**good, "external_id": "p", "price_version": "p" * 81},
        {**good, "external_id": "s", "source": "s" * 41},
    ]
    r = client.post("/v1/ingest/events", json=lines, headers=admin_headers)
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == 4, body
    fields = [
        item["error"]["details"].get("field") for item in body["results"] if item["status"] == "rejected"
    ]
    assert fields == ["vendor", "endpoint", "price_version", "source"], body
    assert runtime.ledger.view("bot")["spend"]["total"] == "0.500000"
