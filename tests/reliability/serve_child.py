"""The body of a forked ``spendwarden serve`` child (see ``proc.Server(fork=True)``).

Importing this module imports everything ``spendwarden serve`` needs (the CLI, uvicorn, every
router and plugin, both database drivers). A forkserver imports it once; each server is then
a fork of that warm process running the very same ``spendwarden serve`` command, so a restart
costs the server's own start-up (engine, migrations check, app, bind), not the ~1.5 s of
imports and CLI building (~5-10 s on a loaded 2-core machine).
"""

from __future__ import annotations

import importlib
import os

import psycopg  # noqa: F401  (PostgreSQL driver, otherwise imported on the first connection)
import typer
import uvicorn  # noqa: F401

from spendwarden import cli
from spendwarden.api.app import extra_routers
from spendwarden.plugins import installers

extra_routers()  # imports every router module serve mounts
installers()  # imports every plugin serve installs
# What the server imports lazily while starting (found by diffing sys.modules after a start).
for _name in (
    "spendwarden.web",
    "spendwarden.analytics.fold",
    "spendwarden.analytics.metrics",
    "fastapi.staticfiles",
    "httpcore",
    "h11",
    "httptools",
    "jinja2",
    "websockets",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
):
    importlib.import_module(_name)

# The click command ``spendwarden`` runs (Typer builds it from the app on every call, ~0.1 s).
COMMAND = typer.main.get_command(cli.app)


def serve(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """Run ``spendwarden <argv>`` with ``env`` as the whole environment, output to ``log_path``."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    COMMAND.main(args=argv, prog_name="spendwarden")
