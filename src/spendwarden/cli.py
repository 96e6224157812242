"""The ``spendwarden`` command line (Typer + Rich).

Admin commands work straight on the database named by ``SPENDWARDEN_DATABASE_URL`` (or
``--database``), like ``datasette`` does; ``serve`` runs the HTTP API and dashboard.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from spendwarden import __version__
from spendwarden.config import Settings
from spendwarden.errors import SpendwardenError
from spendwarden.money import parse_amount

app = typer.Typer(
    help="Spendwarden: per-agent keys, caps and an exact ledger for AI agent spend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
agents_app = typer.Typer(help="Create, list and control agents.", no_args_is_help=True)
tokens_app = typer.Typer(help="Admin, viewer and ingest tokens.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")
app.add_typer(tokens_app, name="tokens")
console = Console()
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help="Database URL or SQLite path (default: SPENDWARDEN_DATABASE_URL or ./spendwarden.db). "
        "Given, it is used for everything, SPENDWARDEN_DATABASE_SESSION_URL included.",
    ),
]
ADMIN_ACTOR = "cli"


def settings_for(database: str | None) -> Settings:
    """``--database`` names one database for all the work: a session URL from the
    environment (which may name another) does not send part of it elsewhere."""
    return Settings(database_url=database, database_session_url=None) if database else Settings()


def runtime_for(database: str | None) -> Any:
    from spendwarden.runtime import build_runtime

    return build_runtime(settings_for(database))


def fail_with(code: str, message: str) -> None:
    err.print(f"[red]error[/red] [bold]{code}[/bold]: {message}")
    raise typer.Exit(2)


def fail(exc: SpendwardenError) -> None:
    err.print(f"[red]error[/red] [bold]{exc.code}[/bold]: {exc.message}")
    if exc.details:
        err.print(json.dumps(exc.details, indent=2, default=str))
    raise typer.Exit(2)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    database: DatabaseOpt = None,
    workers: Annotated[
        bool,
        typer.Option(help="Run background work (deliveries, hold expiry, signals, analytics)."),
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Run the API and dashboard. Migrates the database first; prints a new admin token once.

    On PostgreSQL the periodic work runs in a child `spendwarden worker` process, started and
    stopped with the server (SPENDWARDEN_WORKER_PROCESS=false keeps it in the server's threads)."""
    import uvicorn

    from spendwarden.api.app import create_app
    from spendwarden.interpreter import tune_for_serving
    from spendwarden.ledger.admin import ensure_admin_token
    from spendwarden.worker_process import NeedsPostgres, WorkerChild, periodic_in_child

    runtime = runtime_for(database)
    settings = runtime.settings
    token = ensure_admin_token(runtime.ledger.core, settings.admin_token)
    if token:
        console.print("[bold yellow]Admin token (shown once, stored only as a hash):[/bold yellow]")
        console.print(token, soft_wrap=True)
    if settings.warm_on_start:
        from spendwarden.db.warm import warm_in_background

        warm_in_background(runtime.store)
    child = None
    postgres = runtime.store.is_postgres
    if workers and periodic_in_child(settings, postgres):
        if not postgres:
            fail_with("worker_process_needs_postgres", str(NeedsPostgres()))
        child = WorkerChild(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Spendwarden {__version__} on http://{bind_host}:{bind_port} ({runtime.store.dialect})")
    sys.stdout.flush()
    if child is not None:
        child.start()
    try:
        served = create_app(runtime, run_workers=workers, run_periodic=child is None)
        tune_for_serving(settings)
        uvicorn.run(
            served,
            host=bind_host,
            port=bind_port,
            log_level=log_level,
            access_log=False,
        )
    finally:
        if child is not None:
            child.stop()


@app.command()
def worker(
    database: DatabaseOpt = None,
    watch_parent: Annotated[
        bool, typer.Option(hidden=True, help="Stop when standard input closes (the parent server is gone).")
    ] = False,
) -> None:
    """Run only the periodic work (hold expiry, signals tick, analytics fold): the process
    `serve` starts for it on PostgreSQL. Each job runs under its own leader lock, so any
    number of these share the work. PostgreSQL only. Stops on SIGTERM or Ctrl-C after the
    step in progress."""
    from spendwarden.interpreter import tune_for_serving
    from spendwarden.worker_process import NeedsPostgres, run_worker

    runtime = runtime_for(database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    tune_for_serving(runtime.settings)
    try:
        run_worker(runtime, watch_parent=sys.stdin.buffer if watch_parent else None)
    except NeedsPostgres as exc:
        fail_with("worker_process_needs_postgres", str(exc))


@app.command()
def migrate(database: DatabaseOpt = None) -> None:
    """Create or upgrade the schema (Alembic) to the newest revision."""
    from spendwarden.db.migrate import current_revision, upgrade

    url = settings_for(database).session_url  # DDL on a session of its own, past any pooler
    upgrade(url)
    console.print(f"database at revision {current_revision(url)}")


@app.command()
def verify(
    database: DatabaseOpt = None,
    agent: Annotated[str | None, typer.Option(help="Verify one agent's chain only.")] = None,
) -> None:
    """Recompute every hash chain; exits 1 and names each edited, inserted or deleted row."""
    runtime = runtime_for(database)
    report = runtime.ledger.verify(agent)
    if report["ok"]:
        console.print(f"[green]ok[/green]: {report['chains']} chains, {report['rows']} rows verified")
        return
    table = Table("kind", "chain", "row id", "seq", "detail", title="Ledger tampering found")
    for f in report["findings"]:
        table.add_row(f["kind"], f["chain"], str(f["id"]), str(f["seq"]), f["detail"])
    console.print(table)
    raise typer.Exit(1)


@app.command()
def warm(database: DatabaseOpt = None) -> None:
    """Read the tables every authorization reads (agents, their state, keys and counters)
    into memory: after a restart, a restore or a failover, before traffic arrives."""
    from pathlib import Path

    from spendwarden.db.engine import normalise_url
    from spendwarden.db.store import Store
    from spendwarden.db.warm import warm as warm_tables

    settings = settings_for(database)
    url = normalise_url(settings.database_url)
    path = url.removeprefix("sqlite:///")
    if path != url and not Path(path).exists():
        fail_with("not_found", f"No SQLite database at {path}; nothing to warm.")
    store = Store(url, pool_size=1, prepared_statements=settings.db_prepared_statements)
    table = Table("relation", "MB", "seconds", title="Read into memory")
    try:
        with console.status("reading") as status:
            done = warm_tables(store, progress=lambda w: status.update(f"read {w.relation}"))
    finally:
        store.dispose()
    for w in done:
        table.add_row(w.relation, f"{w.megabytes:,.1f}", f"{w.seconds:.2f}")
    console.print(table)
    total = sum(w.megabytes for w in done)
    console.print(f"{total:,.1f} MB in {sum(w.seconds for w in done):.1f} s")


@agents_app.command("create")
def agents_create(
    agent_id: Annotated[str, typer.Argument(help="Slug: a-z, 0-9, '_', '.', '-'.")],
    tier: Annotated[str, typer.Option(help="experimental | staging | production | custom")] = "experimental",
    name: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str, typer.Option(help="Team or client; billing groups by it.")] = "",
    cap: Annotated[
        list[str] | None, typer.Option(help="Cap override NAME=USD, e.g. daily=20 (repeatable).")
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Create an agent; prints its API key once."""
    from spendwarden.ledger.agents import AgentSpec

    caps: dict[str, int | None] = {}
    try:
        for item in cap or []:
            cap_name, _, value = item.partition("=")
            caps[cap_name.strip()] = (
                None if value.strip().lower() in ("", "none") else parse_amount(value.strip())
            )
        runtime = runtime_for(database)
        agent, key = runtime.ledger.create_agent(
            AgentSpec(id=agent_id, name=name, owner=owner, tier=tier, caps=caps), ADMIN_ACTOR
        )
    except SpendwardenError as exc:
        fail(exc)
        return
    print_json(agent)
    console.print("[bold yellow]API key (shown once):[/bold yellow]")
    console.print(key, soft_wrap=True)


@agents_app.command("list")
def agents_list(database: DatabaseOpt = None) -> None:
    """Agents with status, today's spend and headroom."""
    from spendwarden.db import queries as q

    runtime = runtime_for(database)
    with runtime.store.read() as conn:
        ids = q.agent_ids(conn)
    table = Table("id", "tier", "owner", "status", "today", "month", "headroom")
    for agent_id in ids:
        view = runtime.ledger.view(agent_id)
        room = ", ".join(f"{k}={v}" for k, v in view["headroom"].items())
        table.add_row(
            view["id"],
            view["tier"],
            view["owner"],
            view["status"],
            view["spend"]["daily"],
            view["spend"]["monthly"],
            room,
        )
    console.print(table)


@agents_app.command("show")
def agents_show(agent_id: str, database: DatabaseOpt = None) -> None:
    """One agent with its live spend and headroom."""
    try:
        print_json(runtime_for(database).ledger.view(agent_id))
    except SpendwardenError as exc:
        fail(exc)


def _admin_action(action: str, agent_id: str, reason: str, database: str | None) -> None:
    try:
        ledger = runtime_for(database).ledger
        result = getattr(ledger, action)(agent_id, ADMIN_ACTOR, reason)
    except SpendwardenError as exc:
        fail(exc)
        return
    console.print(f"{agent_id}: [bold]{result['status']}[/bold]")


ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (required; goes to the audit log).")]


@agents_app.command("halt")
def agents_halt(agent_id: str, reason: ReasonOpt, database: DatabaseOpt = None) -> None:
    """Halt an agent: new authorizations get 423 until it is resumed."""
    _admin_action("halt", agent_id, reason, database)


@agents_app.command("resume")
def agents_resume(agent_id: str, reason: ReasonOpt, database: DatabaseOpt = None) -> None:
    """Resume a halted agent."""
    _admin_action("resume", agent_id, reason, database)


@agents_app.command("revoke")
def agents_revoke(agent_id: str, reason: ReasonOpt, database: DatabaseOpt = None) -> None:
    """Revoke an agent and all its keys, at once."""
    _admin_action("revoke", agent_id, reason, database)


@agents_app.command("issue-key")
def agents_issue_key(agent_id: str, label: str | None = None, database: DatabaseOpt = None) -> None:
    """Issue another API key for an agent (rotation); printed once."""
    try:
        key, secret = runtime_for(database).ledger.issue_key(agent_id, ADMIN_ACTOR, label)
    except SpendwardenError as exc:
        fail(exc)
        return
    print_json(key)
    console.print(secret, soft_wrap=True)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Argument(help="admin | viewer | ingest")],
    label: Annotated[str, typer.Option(help="What this token is for.")] = "cli",
    database: DatabaseOpt = None,
) -> None:
    """Create a token; printed once."""
    from spendwarden.ledger.admin import create_token

    console.print(
        create_token(runtime_for(database).ledger.core, role, label, actor=ADMIN_ACTOR), soft_wrap=True
    )


@tokens_app.command("rotate-admin")
def tokens_rotate_admin(database: DatabaseOpt = None) -> None:
    """Revoke every stored admin token and print a new one (once)."""
    from spendwarden.ledger.admin import rotate_admin_token

    console.print(rotate_admin_token(runtime_for(database).ledger.core, actor=ADMIN_ACTOR), soft_wrap=True)


# Commands that live with the part of the design they drive.
from spendwarden.analytics import cli as analytics_cli  # noqa: E402
from spendwarden.demo.cli import demo  # noqa: E402
from spendwarden.ingest import cli as ingest_cli  # noqa: E402
from spendwarden.sdk.drill import drill  # noqa: E402
from spendwarden.tail import tail  # noqa: E402

app.command("demo")(demo)
app.command("drill")(drill)
app.command("tail")(tail)
app.command("import")(ingest_cli.import_events)
app.command("export")(ingest_cli.export_events)
app.command("watch")(ingest_cli.watch)
app.command("report")(analytics_cli.report)
app.command("prune")(analytics_cli.prune)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
