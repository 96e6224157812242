"""The demo talks to Spendwarden only over its public HTTP API, like any client would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import orjson

AlertHandler = Callable[[str, str, dict[str, Any]], None]


class DemoError(Exception):
    """The server answered something the demo cannot carry on from."""


class DemoAPI:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(120, connect=10))

    def close(self) -> None:
        self.http.close()

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise DemoError(
                f"{response.request.method} {response.request.url.path}: {response.status_code} "
                f"{response.text[:500]}"
            )
        data: dict[str, Any] = response.json()
        return data

    def health(self) -> None:
        self._ok(self.http.get("/healthz"))

    def create_agent(self, body: dict[str, Any]) -> str:
        """Create an agent; answers its API key."""
        response = self.http.post("/v1/agents", json=body, headers=self._admin())
        if response.status_code == 409:
            raise DemoError(f"agent {body['id']!r} already exists on this server")
        return str(self._ok(response)["api_key"])

    def patch_agent(self, agent_id: str, body: dict[str, Any]) -> None:
        self._ok(self.http.patch(f"/v1/agents/{agent_id}", json=body, headers=self._admin()))

    def agents(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 500}
        while True:
            page = self._ok(self.http.get("/v1/agents", params=params, headers=self._admin()))
            items += page["items"]
            if not page.get("next"):
                return items
            params["after"] = page["next"]

    def ingest(self, events: list[dict[str, Any]]) -> dict[str, int]:
        """Bulk-record canonical events; answers the accepted/duplicate/rejected counts."""
        body = orjson.dumps(events)
        headers = {**self._admin(), "content-type": "application/json"}
        data = self._ok(self.http.post("/v1/ingest/events", content=body, headers=headers))
        return {name: int(data.get(name, 0)) for name in ("accepted", "duplicates", "rejected")}

    def agent_call(self, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """An agent-key request; the caller reads the status (402, 423 are answers, not failures)."""
        return self.http.post(
            path,
            content=orjson.dumps(body),
            headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
        )

    def alerts(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        """Every alert (newest first), following the pages."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        if agent_id:
            params["agent_id"] = agent_id
        while True:
            page = self._ok(self.http.get("/v1/alerts", params=params, headers=self._admin()))
            items += page["items"]
            if not page.get("next"):
                return items
            params["cursor"] = page["next"]


class AlertFeed:
    """Reads ``GET /v1/stream`` (alerts and agent changes) in a thread and hands each event on."""

    def __init__(self, api: DemoAPI, handler: AlertHandler) -> None:
        self.api = api
        self.handler = handler
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-alert-feed", daemon=True)
        self.error: str | None = None

    def start(self, timeout: float = 15) -> None:
        self.thread.start()
        if not self.connected.wait(timeout):
            raise DemoError(f"could not subscribe to the live stream: {self.error or 'timeout'}")

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        params = {"kinds": "alert,agent", "heartbeat": "1"}
        timeout = httpx.Timeout(30, connect=10)
        try:
            with (
                httpx.Client(base_url=self.api.url, timeout=timeout) as http,
                http.stream("GET", "/v1/stream", params=params, headers=self.api._admin()) as response,
            ):
                if response.status_code != 200:
                    self.error = f"{response.status_code} {response.read()[:200]!r}"
                    return
                self.connected.set()
                self._read(response)
        except httpx.HTTPError as exc:
            self.error = str(exc)
        finally:
            self.connected.set()

    def _read(self, response: httpx.Response) -> None:
        kind = ""
        for line in response.iter_lines():
            if self.stopping.is_set():
                return
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                frame = orjson.loads(line[6:])
                try:
                    self.handler(kind, frame["name"], frame["data"])
                except Exception as exc:  # a printing problem must not end the feed
                    self.error = repr(exc)
