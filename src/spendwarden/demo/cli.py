"""``spendwarden demo``: see what Spendwarden does in about a minute."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from spendwarden.demo.runner import Options, run


def demo(
    duration: Annotated[float, typer.Option(min=1, help="Wall-clock seconds of the live scenario.")] = 45,
    speed: Annotated[float, typer.Option(min=1, help="Simulated seconds per wall-clock second.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the fleet's traffic (same seed, same run).")] = 7,
    no_server: Annotated[
        bool,
        typer.Option("--no-server", help="Use a running server (--url, --token) instead of starting one."),
    ] = False,
    url: Annotated[str | None, typer.Option(help="With --no-server: the server's base URL.")] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="SPENDWARDEN_ADMIN_TOKEN", help="With --no-server: its admin token."),
    ] = None,
    history_days: Annotated[int, typer.Option(min=2, max=30, help="Days of history to seed.")] = 7,
    keep_serving: Annotated[
        bool | None,
        typer.Option(
            "--keep-serving/--exit",
            help="Keep the demo server (and its dashboard) up after the scenario; default: when interactive.",
        ),
    ] = None,
) -> None:
    """Watch Spendwarden catch misbehaving agents: a fleet, a week of history, live incidents.

    A throwaway server (SQLite in a temporary directory) unless --no-server is given.

    Plays a normal hour, a runaway loop, a rail shift to x402, a retry storm and an over-cap charge.

    Exits 0 when every scripted incident was caught by its rule, 1 otherwise, 2 on bad options.
    """
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    options = Options(
        duration=duration,
        speed=speed,
        seed=seed,
        history_days=history_days,
        no_server=no_server,
        url=url,
        token=token,
        keep_serving=(interactive if keep_serving is None else keep_serving) and not no_server,
    )
    try:
        code = run(options, console)
    except KeyboardInterrupt:
        console.print("interrupted")
        code = 130
    raise typer.Exit(code)
