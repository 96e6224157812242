"""CLI commands of the analytics part: ``spendwarden report`` and ``spendwarden prune``.

Registered in ``spendwarden/cli.py`` with one line each. Both work straight on the
database, like every admin command.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from spendwarden.clock import iso, to_us, utc
from spendwarden.errors import SpendwardenError

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

console = Console(stderr=True)
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", "-d", help="Database URL or SQLite path (default: SPENDWARDEN_DATABASE_URL)."),
]


def _runtime(database: str | None) -> Runtime:
    from spendwarden.cli import runtime_for

    runtime: Runtime = runtime_for(database)
    return runtime


def _fail(exc: SpendwardenError) -> None:
    console.print(f"[red]error[/red] [bold]{exc.code}[/bold]: {exc.message}")
    if exc.details:
        console.print(json.dumps(exc.details, default=str))
    raise typer.Exit(2)


def report(
    from_: Annotated[datetime, typer.Option("--from", help="Start (inclusive), ISO-8601; UTC if no offset.")],
    to: Annotated[datetime, typer.Option("--to", help="End (exclusive), ISO-8601; UTC if no offset.")],
    owner: Annotated[str | None, typer.Option(help="Only this owner (client).")] = None,
    agent_id: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Write a billing report that reconciles with the ledger (same as GET /v1/reports/billing)."""
    from spendwarden.analytics.billing import billing_report, to_csv

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("use csv or json", param_hint="--format")
    runtime = _runtime(database)
    try:
        data = billing_report(
            runtime.store,
            owner=owner,
            agent_id=agent_id,
            start_us=to_us(utc(from_)),
            end_us=to_us(utc(to)),
        )
    except SpendwardenError as exc:
        _fail(exc)
        return
    text = to_csv(data) if fmt == "csv" else json.dumps(data, indent=2)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        recon = data["reconciliation"]
        console.print(
            f"wrote {len(data['lines'])} lines, total {data['totals']['amount_usd']} USD to {output} "
            f"(reconciles with the ledger: {recon['matches']})"
        )


def prune(
    older_than: Annotated[str, typer.Option(help="Age of raw rows to delete, e.g. 90d.")] = "90d",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Delete raw ledger rows older than the cut (rollups keep every total; chains stay provable),
    and cap counters of windows closed more than `counter_retention_days` ago (the server
    does that part hourly by itself)."""
    from spendwarden.analytics.prune import cut_for, parse_age, plan
    from spendwarden.analytics.prune import prune as run_prune
    from spendwarden.ledger.retention import prune_counters

    try:
        age = parse_age(older_than)
    except SpendwardenError as exc:
        _fail(exc)
        return
    runtime = _runtime(database)
    now = runtime.clock.now()
    cut = cut_for(now, age)
    agents, rows = plan(runtime.store, cut)
    console.print(f"{rows} ledger rows of {len(agents)} agents occurred before {iso(cut)}.")
    if rows:
        if not yes and not typer.confirm("Prune them (billing archive and chain checkpoints are kept)?"):
            raise typer.Exit(1)
        columns = (TextColumn("[bold]pruning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("agents", total=len(agents))
            result = run_prune(
                runtime.store,
                now,
                age,
                minute_retention_days=runtime.settings.analytics_minute_retention_days,
                progress=lambda _agent, _n: bar.advance(task),
            )
        console.print(
            f"pruned {result.transactions} rows of {result.agents} agents, {result.holds} closed holds, "
            f"{result.idempotency_keys} idempotency keys, {result.minute_rollups} minute rollups; "
            "`spendwarden verify` still proves every chain from its checkpoint."
        )
    days = runtime.settings.counter_retention_days
    with console.status("pruning counters of closed windows"):
        _end, counters = prune_counters(runtime.store, to_us(now), days)
    console.print(
        f"pruned {counters} counters of windows closed more than {days} days ago "
        "(a late spend into one rebuilds it from the rollups)."
    )
