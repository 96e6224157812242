"""Task events from agents and the admin's task list: status, cost so far, tool calls."""

from __future__ import annotations

from typing import Any

from spendwarden.runtime import Runtime
from tests.factories import bearer, make_agent


def test_task_lifecycle_with_cost_and_tool_calls(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    key = bearer(make_agent(runtime.ledger, "bot"))
    started = client.post(
        "/v1/tasks/events",
        json={"type": "task.started", "task_id": "t1", "scope": {"max_tool_calls": 20}, "note": "crawl"},
        headers=key,
    )
    assert started.status_code == 201, started.text
    assert started.json()["task"]["status"] == "running"
    assert started.json()["event"]["scope"] == {"max_tool_calls": 20}
    for amount in ("0.10", "0.25"):
        r = client.post(
            "/v1/transactions", json={"amount_usd": amount, "task_id": "t1", "tool": "search"}, headers=key
        )
        assert r.status_code == 201
    progress = client.post(
        "/v1/tasks/events",
        json={"type": "task.progress", "task_id": "t1", "occurred_at": "2026-11-23T12:00:30Z"},
        headers=key,
    )
    assert progress.json()["task"]["last_progress_at"] == "2026-11-23T12:00:30Z"
    done = client.post(
        "/v1/tasks/events", json={"type": "task.completed", "task_id": "t1"}, headers=key
    ).json()
    task = done["task"]
    assert (task["status"], task["cost_usd"], task["tool_calls"]) == ("completed", "0.350000", 2)
    assert task["completed_at"] == "2026-11-23T12:00:00Z" and task["scope"] == {"max_tool_calls": 20}
    listed = client.get("/v1/tasks", params={"agent_id": "bot"}, headers=admin_headers).json()["items"]
    assert [(t["task_id"], t["cost_usd"], t["tool_calls"]) for t in listed] == [("t1", "0.350000", 2)]
    one = client.get("/v1/tasks/bot/t1", headers=admin_headers).json()
    assert one["note"] == "crawl"


def test_a_task_named_only_by_spends_is_counted(
    client: Any, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    key = bearer(make_agent(runtime.ledger, "bot"))
    for _ in range(3):
        client.post("/v1/transactions", json={"amount_usd": "0.01", "task_id": "implicit"}, headers=key)
    (task,) = client.get("/v1/tasks", params={"status": "running"}, headers=admin_headers).json()["items"]
    assert (task["task_id"], task["tool_calls"], task["cost_usd"]) == ("implicit", 3, "0.030000")
    failed = client.post(
        "/v1/tasks/events",
        json={"type": "task.failed", "task_id": "implicit", "error": "Timeout"},
        headers=key,
    ).json()["task"]
    assert failed["status"] == "failed" and failed["note"] == "error: Timeout"
    assert client.get("/v1/tasks", params={"status": "running"}, headers=admin_headers).json()["items"] == []


def test_bad_task_events_change_nothing(client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    key = bearer(make_agent(runtime.ledger, "bot"))
    bad = client.post("/v1/tasks/events", json={"type": "task.paused", "task_id": "t"}, headers=key)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    scope = client.post(
        "/v1/tasks/events",
        json={"type": "task.started", "task_id": "t", "scope": {"max_tool_calls": 0}},
        headers=key,
    )
    assert scope.status_code == 422
    assert (
        client.post(
            "/v1/tasks/events", json={"type": "task.started", "task_id": "t"}, headers=admin_headers
        ).status_code
        == 403
    )
    client.post("/v1/tasks/events", json={"type": "task.completed", "task_id": "t"}, headers=key)
    again = client.post("/v1/tasks/events", json={"type": "task.progress", "task_id": "t"}, headers=key)
    assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "completed"
    assert client.get("/v1/tasks", headers=key).status_code == 403
    pages = client.get("/v1/tasks", params={"cursor": "nope"}, headers=admin_headers)
    assert pages.status_code == 422


def test_task_pages(client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    key = bearer(make_agent(runtime.ledger, "bot"))
    for i in range(5):
        client.post("/v1/tasks/events", json={"type": "task.started", "task_id": f"t{i}"}, headers=key)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/tasks", params=params, headers=admin_headers).json()
        seen += [t["task_id"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == [f"t{i}" for i in range(5)] and len(seen) == 5
