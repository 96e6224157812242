"""``spendwarden drill AGENT``: rehearse cutting an agent off, and time it.

Steps, each timed and each leaving an audit entry:

1. take a key that works now (``--key``, else a fresh one is issued for the drill) and
   prove it works;
2. revoke the agent's active keys (reason "revocation drill");
3. prove the very next call with the old key is refused (401);
4. issue a fresh key;
5. prove it works (an authorization of $0.000001, voided at once);
6. find an audit entry for every issue and revocation above.

Why keys and not the agent: revoking an *agent* is terminal in the ledger (a revoked
agent can never get a key again), so a drill that revoked the agent would destroy it.
Revoking every key is what cuts a leaked credential off, exercises the same refusal
path (one indexed lookup per request, never cached), and leaves the agent usable with
the fresh key printed at the end — which is exactly a key rotation. ``--only-drill-key``
revokes just the drill's own key, to rehearse without disturbing a running agent.

Against a server (``--url``/``--token``, or ``SPENDWARDEN_URL``/``SPENDWARDEN_ADMIN_TOKEN``)
or, with ``--database``, against a real server started in this process on that database.
The field's bar is 90 s end to end; ours is expected well under one second.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from spendwarden.errors import AgentHalted, SpendwardenError, Unauthenticated
from spendwarden.sdk.client import Client
from spendwarden.sdk.transport import headers_for, outcome

REASON = "revocation drill"
FIELD_BAR_SECONDS = 90.0
PROBE_AMOUNT = "0.000001"


class DrillFailed(Exception):
    """A step did not behave as a revocation must."""


@dataclass
class Step:
    name: str
    ms: float
    detail: str
    ok: bool = True


@dataclass
class DrillReport:
    agent_id: str
    steps: list[Step] = field(default_factory=list)
    new_key: str | None = None
    revoked_key_ids: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.ok for s in self.steps)

    @property
    def total_ms(self) -> float:
        return sum(s.ms for s in self.steps)

    def step_ms(self, name: str) -> float:
        return next(s.ms for s in self.steps if s.name == name)


class AdminApi:
    """The few admin endpoints the drill needs, over HTTP with the admin token."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers_for(token))

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return outcome(self.http.get(path, params=params))

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return outcome(self.http.post(path, json=body or {}))

    def close(self) -> None:
        self.http.close()


class Drill:
    def __init__(self, admin: AdminApi, agent_id: str, key: str | None, only_drill_key: bool) -> None:
        self.admin = admin
        self.agent_id = agent_id
        self.key = key
        self.only_drill_key = only_drill_key
        self.report = DrillReport(agent_id)
        self.issued: list[str] = []

    def timed(self, name: str, action: Callable[[], str]) -> None:
        start = time.perf_counter()
        detail = action()
        self.report.steps.append(Step(name, (time.perf_counter() - start) * 1000, detail))

    def agent_client(self, key: str) -> Client:
        return Client(key=key, url=self.admin.url, retries=0)

    def run(self) -> DrillReport:
        try:
            self.timed("agent exists and is not revoked", self.check_agent)
            self.timed("old key works", self.old_key_works)
            self.timed("revoke keys", self.revoke_keys)
            self.timed("old key refused", self.old_key_refused)
            self.timed("issue fresh key", self.issue_fresh_key)
            self.timed("fresh key works", self.fresh_key_works)
            self.timed("audit entries", self.audit_entries)
        except (DrillFailed, SpendwardenError) as exc:
            self.report.error = str(exc) if isinstance(exc, DrillFailed) else f"{exc.code}: {exc.message}"
        return self.report

    def check_agent(self) -> str:
        status = self.admin.get(f"/v1/agents/{self.agent_id}")["status"]
        if status == "revoked":
            raise DrillFailed(f"agent {self.agent_id} is revoked for good; there is nothing to drill")
        return f"status {status}"

    def issue_key(self, label: str) -> tuple[str, str]:
        created = self.admin.post(f"/v1/agents/{self.agent_id}/keys", {"label": label})
        self.issued.append(created["key"]["id"])
        return created["key"]["id"], created["api_key"]

    def old_key_works(self) -> str:
        if self.key is None:
            _, self.key = self.issue_key("revocation drill: before")
        with self.agent_client(self.key) as client:
            client.me()
        return "GET /v1/me -> 200"

    def keys_to_revoke(self) -> list[dict[str, Any]]:
        active = [
            k for k in self.admin.get(f"/v1/agents/{self.agent_id}/keys")["items"] if not k["revoked_at"]
        ]
        if self.only_drill_key:
            assert self.key is not None
            key = self.key
            active = [k for k in active if key.startswith(k["prefix"])]
        return active

    def revoke_keys(self) -> str:
        for key in self.keys_to_revoke():
            self.admin.post(f"/v1/agents/{self.agent_id}/keys/{key['id']}/revoke", {"reason": REASON})
            self.report.revoked_key_ids.append(key["id"])
        if not self.report.revoked_key_ids:
            raise DrillFailed("no active key to revoke")
        return f"{len(self.report.revoked_key_ids)} key(s) revoked"

    def old_key_refused(self) -> str:
        assert self.key is not None
        try:
            with self.agent_client(self.key) as client:
                client.authorize(PROBE_AMOUNT, tool="revocation-drill")
        except Unauthenticated as exc:
            return f"POST /v1/authorize -> 401 {exc.code}"
        raise DrillFailed("the revoked key was accepted")

    def issue_fresh_key(self) -> str:
        key_id, self.report.new_key = self.issue_key("revocation drill: after")
        return f"key {key_id}"

    def fresh_key_works(self) -> str:
        assert self.report.new_key is not None
        with self.agent_client(self.report.new_key) as client:
            try:
                client.void(client.authorize(PROBE_AMOUNT, tool="revocation-drill").id)
            except AgentHalted:
                return "key accepted; the agent is halted (423), so no authorization"
        return "authorize + void -> 200"

    def audit_entries(self) -> str:
        items = self.admin.get("/v1/audit", target_id=self.agent_id, limit=200)["items"]
        seen = {(i["action"], (i.get("after") or {}).get("key_id")) for i in items}
        wanted = [("key.issued", k) for k in self.issued]
        wanted += [("key.revoked", k) for k in self.report.revoked_key_ids]
        missing = [w for w in wanted if w not in seen]
        if missing:
            raise DrillFailed(f"audit entries missing: {missing}")
        return f"{len(wanted)} entries found"


def run_drill(
    url: str, token: str, agent_id: str, *, key: str | None = None, only_drill_key: bool = False
) -> DrillReport:
    admin = AdminApi(url, token)
    try:
        return Drill(admin, agent_id, key, only_drill_key).run()
    finally:
        admin.close()


def run_local_drill(database: str, agent_id: str, **options: Any) -> DrillReport:
    """Start a real server in this process on ``database`` and drill against it."""
    from spendwarden.config import Settings
    from spendwarden.runtime import build_runtime
    from spendwarden.sdk.embedded import sqlite_url
    from spendwarden.sdk.server import LocalServer

    token = secrets.token_urlsafe(32)
    runtime = build_runtime(Settings(database_url=sqlite_url(database), admin_token=token))
    try:
        with LocalServer(runtime) as server:
            return run_drill(server.url, token, agent_id, **options)
    finally:
        runtime.close()


def render(report: DrillReport, console: Console) -> None:
    table = Table("step", "result", "ms", title=f"Revocation drill: {report.agent_id}")
    for step in report.steps:
        table.add_row(step.name, f"[green]ok[/green] {step.detail}", f"{step.ms:.1f}")
    console.print(table)
    if report.error:
        console.print(f"[red]FAILED[/red]: {report.error}")
        return
    cut_off = report.step_ms("revoke keys") + report.step_ms("old key refused")
    console.print(
        f"[bold green]passed[/bold green] in {report.total_ms:.0f} ms end to end "
        f"(revoke -> refused: {cut_off:.0f} ms; the field's bar: {FIELD_BAR_SECONDS:.0f} s)"
    )
    console.print("[bold yellow]The agent's new API key (shown once; deploy it now):[/bold yellow]")
    console.print(report.new_key or "", soft_wrap=True)


def drill(
    agent_id: Annotated[str, typer.Argument(help="The agent to drill.")],
    url: Annotated[str, typer.Option(envvar="SPENDWARDEN_URL", help="Server URL.")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="SPENDWARDEN_ADMIN_TOKEN", help="Admin token.")] = None,
    database: Annotated[
        str | None,
        typer.Option("--database", "-d", help="Drill a local database through an in-process server."),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="A key of the agent to prove refused (else one is issued).")
    ] = None,
    only_drill_key: Annotated[
        bool, typer.Option(help="Revoke only the drill's key, not every active key of the agent.")
    ] = False,
) -> None:
    """The revocation drill: revoke the agent's keys, prove the next call is refused, issue a
    fresh key, prove it works, check the audit log — each step timed."""
    console = Console()
    if database:
        report = run_local_drill(database, agent_id, key=key, only_drill_key=only_drill_key)
    elif token:
        report = run_drill(url, token, agent_id, key=key, only_drill_key=only_drill_key)
    else:
        raise typer.BadParameter("give --token (or SPENDWARDEN_ADMIN_TOKEN), or --database")
    render(report, console)
    if not report.ok:
        raise typer.Exit(1)


__all__ = ["DrillReport", "drill", "run_drill", "run_local_drill"]
