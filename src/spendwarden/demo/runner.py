"""The demo from start to end: fleet, a week of history, the live scenario, the verdict."""

from __future__ import annotations

import heapq
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from rich.console import Console

from spendwarden.demo.client import AlertFeed, DemoAPI, DemoError
from spendwarden.demo.clock import DemoClock
from spendwarden.demo.fleet import FLEET
from spendwarden.demo.player import Player
from spendwarden.demo.report import Watch
from spendwarden.demo.scenario import MIN_SPAN_SECONDS, build
from spendwarden.demo.server import local_server
from spendwarden.demo.traffic import Spend, Traffic

INGEST_CHUNK = 5000
STREAM_SETTLE_SECONDS = 1.5  # time for the last alerts to come down the stream


@dataclass(frozen=True)
class Options:
    duration: float
    speed: float
    seed: int
    history_days: int = 7
    no_server: bool = False
    url: str | None = None
    token: str | None = None
    keep_serving: bool = False
    now: datetime | None = None  # where the scenario ends (tests pin the time of day)


def run(opts: Options, console: Console) -> int:
    """0 when every scripted incident was caught by its rule, 1 when one was not, 2 on bad input."""
    span = timedelta(seconds=opts.duration * opts.speed)
    if span.total_seconds() < MIN_SPAN_SECONDS:
        console.print(
            f"[red]error[/red]: --duration x --speed must cover at least {MIN_SPAN_SECONDS} simulated "
            f"seconds (the incidents need 2.5 h of simulated time); got {span.total_seconds():.0f}."
        )
        return 2
    now = (opts.now or datetime.now(UTC)).replace(microsecond=0)
    if opts.no_server:
        if not opts.url or not opts.token:
            console.print(
                "[red]error[/red]: --no-server needs --url and --token (or SPENDWARDEN_ADMIN_TOKEN)."
            )
            return 2
        # The server ticks its detectors on its own wall clock: the scenario runs ahead of it
        # (from a minute from now), so no tick ever overtakes the events being sent.
        clock = DemoClock(now + timedelta(minutes=1))
        return _guarded(DemoAPI(opts.url, opts.token), clock, opts, span, console, f"-{secrets.token_hex(2)}")
    # Our own server runs on the demo clock: the scenario ends at wall-clock now.
    clock = DemoClock(now - span)
    with local_server(clock) as server:
        code = _guarded(DemoAPI(server.url, server.admin_token), clock, opts, span, console, "")
        if opts.keep_serving:
            _serve_on(clock, server.url, console)
        return code


def _guarded(
    api: DemoAPI, clock: DemoClock, opts: Options, span: timedelta, console: Console, suffix: str
) -> int:
    try:
        return _run(api, clock, opts, span, console, suffix)
    except DemoError as exc:
        console.print(f"[red]error[/red]: {exc}")
        return 2
    except httpx.HTTPError as exc:
        console.print(f"[red]error[/red]: no answer from {api.url}: {exc}")
        return 2
    finally:
        api.close()


def _run(
    api: DemoAPI, clock: DemoClock, opts: Options, span: timedelta, console: Console, suffix: str
) -> int:
    start = clock.now()
    api.health()
    _banner(api, opts, span, console)
    ids = {p.id: p.id + suffix for p in FLEET}
    keys = {ids[p.id]: api.create_agent(p.create_body(ids[p.id])) for p in FLEET}
    console.print(f"Created {len(keys)} agents: " + ", ".join(f"{p.id} ({p.tier})" for p in FLEET))
    traffic = Traffic(random.Random(opts.seed), ids)
    _seed_history(api, traffic, start, opts.history_days, console)
    scenario = build(traffic, start, span)
    watch = Watch(console, scenario, set(keys), clock.now)
    watch.baseline(api.alerts())
    feed = AlertFeed(api, watch.on_event)
    feed.start()
    player = Player(api, keys, clock, opts.speed, watch)
    console.rule(f"Live: {_hours(span)} of simulated time at {opts.speed:g}x")
    try:
        took = player.play(scenario)
        time.sleep(STREAM_SETTLE_SECONDS)
    finally:
        feed.stop()
    watch.reconcile(api.alerts())
    console.rule()
    console.print(watch.summary())
    console.print(
        f"Live part: {player.sent} requests in {took:.1f} s of wall time "
        f"({span.total_seconds() / max(took, 1e-9):.0f}x)." + _errors(player)
    )
    if watch.all_caught:
        console.print("[bold green]Every scripted incident was caught by its rule.[/bold green]")
        return 0
    console.print("[bold red]Some incidents were not caught.[/bold red]")
    return 1


def _banner(api: DemoAPI, opts: Options, span: timedelta, console: Console) -> None:
    console.rule("[bold]Spendwarden demo[/bold]")
    console.print(f"Dashboard:   [bold]{api.url}/[/bold]")
    console.print(f"Admin token: [bold]{api.admin_token}[/bold]", soft_wrap=True)
    console.print(
        f"A fleet of {len(FLEET)} agents, {opts.history_days} days of history, then {_hours(span)} of live "
        f"traffic played in {opts.duration:g} s ({opts.speed:g} simulated seconds per second)."
    )


def _seed_history(api: DemoAPI, traffic: Traffic, end: datetime, days: int, console: Console) -> None:
    """A week of normal work in the past, through the bulk ingest endpoint, oldest first."""
    began = time.monotonic()
    start = end - timedelta(days=days)
    streams = [list(traffic.between(p, start, end)) for p in FLEET]
    spends: list[Spend] = list(heapq.merge(*streams, key=lambda s: s.at))
    accepted = 0
    with console.status(f"Recording {len(spends):,} spends of history..."):
        for i in range(0, len(spends), INGEST_CHUNK):
            events = [{**s.event(), "source": "demo"} for s in spends[i : i + INGEST_CHUNK]]
            counts = api.ingest(events)
            accepted += counts.get("accepted", 0)
            if counts.get("rejected"):
                raise DemoError(f"the server rejected {counts['rejected']} history events")
    total = sum((Decimal(s.body["amount_usd"]) for s in spends), Decimal(0))
    console.print(
        f"History: {accepted:,} spends, ${total:,.2f}, {start:%a %d %b %H:%M} to {end:%a %d %b %H:%M} UTC "
        f"(recorded in {time.monotonic() - began:.1f} s)."
    )
    for p in FLEET:
        rules = p.halt_rules_after_history()
        if rules:
            api.patch_agent(
                traffic.ids[p.id], {"halt_rules": rules, "reason": "history imported: tier halt rules on"}
            )
    halted = [a["id"] for a in api.agents() if a["id"] in traffic.ids.values() and a["status"] != "active"]
    if halted:
        console.print(f"[yellow]warning[/yellow]: the history halted {', '.join(halted)}.")


def _errors(player: Player) -> str:
    if not player.errors:
        return ""
    return " Unexpected answers: " + ", ".join(f"{n}x {code}" for code, n in sorted(player.errors.items()))


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _serve_on(clock: DemoClock, url: str, console: Console) -> None:
    """Keep the dashboard up, now in real time, until Ctrl-C."""
    clock.run(1.0)
    console.print(f"The server keeps running at [bold]{url}/[/bold] - press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopped")
