"""``spendwarden tail``: follow a server's live stream (``GET /v1/stream``) in the terminal.

A Rich live table of the newest events, or one JSON object per line with ``--json`` (for
scripts). It reconnects when the connection drops, until Ctrl-C or ``--count`` events.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

STYLES = {"transaction": "cyan", "alert": "bold red", "agent": "yellow"}


def parse_sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-Sent Events from text lines: yields ``{"id", "event", "data"}`` per event."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield {
                    "id": fields.get("id"),
                    "event": fields.get("event", "message"),
                    "data": "\n".join(data),
                }
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


def summary(kind: str, data: dict[str, Any]) -> str:
    """One line a person can read at a glance."""
    if kind == "transaction":
        parts = [f"{data.get('amount_usd')} USD", data.get("vendor"), data.get("rail"), data.get("tool")]
        return " ".join(str(p) for p in parts if p) + f" ({data.get('status')})"
    if kind == "alert":
        return f"[{data.get('severity')}] {data.get('rule')}: {data.get('title')} ({data.get('status')})"
    if "task" in data:
        task = data["task"]
        return f"task {task.get('task_id')} {task.get('status')} cost {task.get('cost_usd')} USD"
    return " ".join(str(data[k]) for k in ("status", "reason") if data.get(k))


def agent_of(data: dict[str, Any]) -> str:
    return str(data.get("agent_id") or "-")


def render(events: deque[tuple[str, str, str, str, str]], url: str) -> Table:
    table = Table("time", "kind", "event", "agent", "what", title=f"Spendwarden live · {url}", expand=True)
    for at, kind, name, agent, what in events:
        style = STYLES.get(kind, "")
        table.add_row(at, f"[{style}]{kind}[/{style}]" if style else kind, name, agent, what)
    return table


def stream_events(
    url: str, token: str, params: dict[str, str], timeout: float = 30.0
) -> Iterator[dict[str, Any]]:
    """Decoded events of one connection (``kind``, ``name``, ``data``, ``id``)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=httpx.Timeout(timeout, read=timeout)) as client,
        client.stream("GET", f"{url.rstrip('/')}/v1/stream", headers=headers, params=params) as response,
    ):
        if response.status_code != 200:
            response.read()
            raise typer.BadParameter(f"{response.status_code}: {response.text}", param_hint="--url/--token")
        for event in parse_sse(response.iter_lines()):
            body = orjson.loads(event["data"])
            yield {"id": event["id"], "kind": event["event"], "name": body["name"], "data": body["data"]}


def tail(
    url: Annotated[str, typer.Option(envvar="SPENDWARDEN_URL", help="Server URL.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="SPENDWARDEN_ADMIN_TOKEN", help="Admin or viewer token.")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's events.")] = None,
    kinds: Annotated[str | None, typer.Option(help="Comma-separated: transaction,alert,agent.")] = None,
    count: Annotated[int | None, typer.Option(help="Exit after this many events.")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Print one JSON object per event.")] = False,
    rows: Annotated[int, typer.Option(help="Rows kept in the live table.")] = 25,
) -> None:
    """Follow live transactions, alerts and agent events from a running server."""
    if not token:
        raise typer.BadParameter("give --token or set SPENDWARDEN_ADMIN_TOKEN", param_hint="--token")
    params = {k: v for k, v in {"agent_id": agent, "kinds": kinds}.items() if v}
    console = Console()
    recent: deque[tuple[str, str, str, str, str]] = deque(maxlen=rows)
    seen = 0
    display: Any = _Null() if json_lines else Live(render(recent, url), console=console, auto_refresh=False)
    try:
        with display as live:
            while count is None or seen < count:
                try:
                    for event in stream_events(url, token, params):
                        seen += 1
                        _show(event, json_lines, recent, live, url)
                        if count is not None and seen >= count:
                            return
                except (httpx.TransportError, httpx.RemoteProtocolError):
                    time.sleep(1.0)  # the server restarted or the network dropped: reconnect
    except KeyboardInterrupt:
        return


def _show(event: dict[str, Any], json_lines: bool, recent: deque[Any], live: Any, url: str) -> None:
    if json_lines:
        typer.echo(orjson.dumps(event).decode())
        return
    data = event["data"]
    at = str(data.get("occurred_at") or data.get("last_seen_at") or "")[11:19] or time.strftime("%H:%M:%S")
    recent.appendleft((at, event["kind"], event["name"], agent_of(data), summary(event["kind"], data)))
    live.update(render(recent, url), refresh=True)


class _Null:
    """Stands in for ``rich.live.Live`` when printing JSON lines."""

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None
