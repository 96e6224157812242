"""CLI commands of the ingest part: ``import``, ``export`` and ``watch`` (registered in cli.py)."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from spendwarden.clock import to_us

console = Console(stderr=True)
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", "-d", help="Database URL or SQLite path (default: SPENDWARDEN_DATABASE_URL)."),
]


def _runtime(database: str | None) -> Any:
    from spendwarden.cli import runtime_for

    return runtime_for(database)


def import_events(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON, or CSV (.csv) with a header.")
    ],
    rejects: Annotated[
        Path | None, typer.Option(help="Where rejected lines go (default FILE.rejected.ndjson).")
    ] = None,
    restart: Annotated[bool, typer.Option(help="Ignore stored progress and read from the start.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per committed batch.")] = 5000,
    database: DatabaseOpt = None,
) -> None:
    """Import canonical spend events; resumable, and re-importing never counts twice."""
    from spendwarden.ingest.files import import_file

    runtime = _runtime(database)
    target = rejects or file.with_name(file.name + ".rejected.ndjson")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
        state = import_file(
            runtime.ledger.core,
            file,
            rejects=target,
            restart=restart,
            batch_size=batch_size,
            progress=lambda done: bar.update(task, completed=done),
        )
    accepted, duplicates, rejected = state.this_run()
    console.print(
        f"accepted {accepted}, duplicates {duplicates}, rejected {rejected}"
        + (f" (see {target})" if rejected else "")
    )
    if state.earlier != (0, 0, 0):
        a, d, r = state.earlier
        console.print(f"resumed where earlier runs stopped (they accepted {a}, duplicates {d}, rejected {r})")
        console.print("--restart reads the file from the start again; nothing is counted twice")
    if not state.rejected and target.exists() and target.stat().st_size == 0:
        target.unlink()


def export_events(
    agent: Annotated[str | None, typer.Option(help="Only this agent's rows.")] = None,
    from_: Annotated[
        datetime | None, typer.Option("--from", help="occurred_at >= this (UTC ISO-8601).")
    ] = None,
    to: Annotated[datetime | None, typer.Option(help="occurred_at < this.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="ndjson | csv")] = "ndjson",
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout).")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Export the ledger as canonical events; `spendwarden import` reads it back."""
    from spendwarden.ingest.files import export_rows, write_export

    if fmt not in ("ndjson", "csv"):
        raise typer.BadParameter("--format must be ndjson or csv")
    runtime = _runtime(database)
    rows = export_rows(
        runtime.ledger.core,
        agent_id=agent,
        since=to_us(from_) if from_ else None,
        until=to_us(to) if to else None,
    )
    if output is None:
        count = write_export(rows, sys.stdout.buffer, fmt)
        sys.stdout.buffer.flush()
    else:
        with output.open("wb") as out:
            count = write_export(rows, out, fmt)
    console.print(f"exported {count} rows")


def watch(
    socket: Annotated[str, typer.Argument(help="ws:// or wss:// URL of the gate's event socket.")],
    fmt: Annotated[str, typer.Option("--format", help="canonical | x402 | l402")] = "canonical",
    url: Annotated[
        str | None, typer.Option(help="Post to this server's /v1/ingest/events instead of the DB.")
    ] = None,
    token: Annotated[str | None, typer.Option(help="Ingest or admin token for --url.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Follow a payment gate's socket; reconnects with backoff and resumes without loss or repeats."""
    from spendwarden.ingest.watch import FORMATS, Watcher, db_cursor_store, db_writer, http_writer

    if not socket.startswith(("ws://", "wss://")):
        raise typer.BadParameter("the socket URL must start with ws:// or wss://")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    if url is not None:
        if not token or fmt != "canonical":
            raise typer.BadParameter("--url needs --token and canonical messages")
        watcher = Watcher(socket, http_writer(url, token))
    else:
        core = _runtime(database).ledger.core
        load, save = db_cursor_store(core, socket)
        watcher = Watcher(socket, db_writer(core, fmt, socket), load_cursor=load, save_cursor=save)
    stats = asyncio.run(_watch_until_signal(watcher))
    console.print(f"accepted {stats.accepted}, duplicates {stats.duplicates}, rejected {stats.rejected}")


async def _watch_until_signal(watcher: Any) -> Any:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await watcher.run(stop)
