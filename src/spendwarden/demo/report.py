"""What the demo prints: alerts as they fire, and which rule caught each scripted incident."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spendwarden.demo.scenario import NORMAL, Incident, Scenario

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def offset(delta: timedelta) -> str:
    """``+1h07m`` / ``+2m30s``: simulated time since the scenario began."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{hours}h{minutes:02d}m" if hours else f"+{minutes}m{secs:02d}s"


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@dataclass(frozen=True)
class Catch:
    rule: str
    at: datetime  # simulated time the rule fired
    wall: float  # wall seconds since the live part began


class Watch:
    """Matches live alerts to the scripted incidents (thread-safe: the feed calls it)."""

    def __init__(
        self, console: Console, scenario: Scenario, agents: set[str], now: Callable[[], datetime]
    ) -> None:
        self.console = console
        self.scenario = scenario
        self.agents = agents
        self.now = now  # the simulated clock, for ledger alerts stamped with the server's time
        self.known: dict[str, int] = {}
        self.caught: dict[str, Catch] = {}
        self.normal_hour: list[str] = []
        self.lock = threading.Lock()
        self.wall0 = time.monotonic()

    def baseline(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts that existed before the live part (the history's) catch nothing by themselves."""
        self.known = {a["id"]: a["occurrences"] for a in alerts}

    def on_event(self, kind: str, name: str, alert: dict[str, Any]) -> None:
        if kind != "alert" or alert.get("agent_id") not in self.agents:
            return
        with self.lock:
            when = self._when(alert)
            if name == "alert.opened":
                self._print(alert, when)
                if when < self.scenario.start + NORMAL:
                    self.normal_hour.append(alert["rule"])
            if name in ("alert.opened", "alert.updated"):
                self._match(alert, when)

    def reconcile(self, alerts: list[dict[str, Any]]) -> None:
        """After the run: anything the stream may have missed, from ``GET /v1/alerts``."""
        with self.lock:
            for alert in reversed(alerts):
                if (
                    alert.get("agent_id") in self.agents
                    and self.known.get(alert["id"]) != alert["occurrences"]
                ):
                    self._match(alert, self._when(alert))

    def _when(self, alert: dict[str, Any]) -> datetime:
        """Signal alerts carry event time; ledger alerts the server's clock (which, against a
        running server, is not the simulated one): then the simulated now stands in."""
        seen = parse_time(alert.get("last_seen_at"))
        if seen is not None and self.scenario.start <= seen <= self.scenario.end + NORMAL:
            return seen
        return self.now()

    def _match(self, alert: dict[str, Any], when: datetime) -> None:
        for incident in self.scenario.incidents:
            if (
                incident.key not in self.caught
                and alert["agent_id"] == incident.agent
                and alert["rule"] in incident.rules
                and when >= incident.start
            ):
                self.caught[incident.key] = Catch(alert["rule"], when, time.monotonic() - self.wall0)

    def _print(self, alert: dict[str, Any], when: datetime) -> None:
        severity = alert["severity"]
        style = SEVERITY_STYLE.get(severity, "")
        message = alert["message"] if len(alert["message"]) <= 110 else alert["message"][:107] + "..."
        self.console.print(
            f"  [dim]{when:%H:%M} {offset(when - self.scenario.start):>8}[/dim]  "
            f"[{style}]{severity.upper():8}[/{style}] [bold]{alert['rule']:<18}[/bold] "
            f"{escape(alert['agent_id'] or '-'):<22} {escape(message)}",
            highlight=False,
        )

    def note(self, at: datetime, text: str) -> None:
        with self.lock:
            self.console.print(
                f"  [dim]{at:%H:%M} {offset(at - self.scenario.start):>8}[/dim]  "
                f"[bold magenta]>>[/bold magenta] {escape(text)}",
                highlight=False,
            )

    def summary(self) -> Table:
        table = Table(title="Scripted incidents and the rules that caught them", title_justify="left")
        for column in ("incident", "agent", "started", "expected rule", "caught by", "after", "wall s"):
            table.add_column(column, no_wrap=True)
        quiet = ", ".join(sorted(set(self.normal_hour))) or "nothing (quiet, as expected)"
        table.add_row("Normal hour", "all", "+0m00s", "-", quiet, "-", "-")
        for incident in self.scenario.incidents:
            table.add_row(*self._row(incident))
        return table

    def _row(self, incident: Incident) -> list[str]:
        start = offset(incident.start - self.scenario.start)
        expected = " / ".join(incident.rules)
        catch = self.caught.get(incident.key)
        if catch is None:
            return [
                incident.title,
                incident.agent,
                start,
                expected,
                "[bold red]NOT CAUGHT[/bold red]",
                "-",
                "-",
            ]
        after = offset(catch.at - incident.start)
        caught = f"[green]{catch.rule}[/green]"
        return [incident.title, incident.agent, start, expected, caught, after, f"{catch.wall:.1f}"]

    @property
    def all_caught(self) -> bool:
        return all(i.key in self.caught for i in self.scenario.incidents)
