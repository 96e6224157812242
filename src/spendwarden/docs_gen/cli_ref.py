"""``docs/cli.md`` from the real ``--help`` of every ``spendwarden`` command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer import rich_utils
from typer.testing import CliRunner

HEADER = """# Command line

Generated from the real `--help` of every command by `python -m spendwarden.docs_gen`; do not edit
by hand. Admin commands work straight on the database named by `SPENDWARDEN_DATABASE_URL` (or
`--database`); see [configuration.md](configuration.md).

"""
# Help is rendered by Rich: pin its width and turn colour off so the text is the same everywhere.
WIDTH = 100
HELP_ENV = {"COLUMNS": str(WIDTH), "NO_COLOR": "1", "FORCE_COLOR": None, "PY_COLORS": None, "TERM": "dumb"}


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command and sub-command, sorted by name (``group.commands``: Typer's click
    groups, whichever click Typer ships with)."""
    paths: list[tuple[str, ...]] = []
    commands: dict[str, Any] = getattr(group, "commands", {})
    for name in sorted(commands):
        if getattr(commands[name], "hidden", False):
            continue
        paths.append((*prefix, name))
        paths += command_paths(commands[name], (*prefix, name))
    return paths


@contextmanager
def pinned_rich() -> Iterator[None]:
    """Typer reads the width and colour forcing from the environment once, at import time
    (``TERMINAL_WIDTH``, ``FORCE_COLOR``, ``GITHUB_ACTIONS``...): pin them while rendering."""
    saved = (rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL)
    rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = WIDTH, False
    try:
        yield
    finally:
        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = saved


def help_text(app: typer.Typer, path: tuple[str, ...]) -> str:
    with pinned_rich():
        result = CliRunner().invoke(app, [*path, "--help"], prog_name="spendwarden", env=HELP_ENV)
    if result.exit_code != 0:
        raise RuntimeError(f"spendwarden {' '.join(path)} --help failed: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())


def render_cli() -> str:
    from spendwarden.cli import app

    group = typer.main.get_command(app)
    sections = [HEADER, "```\n" + help_text(app, ()) + "\n```\n"]
    paths = command_paths(group)
    sections.append("\n".join(f"- [`spendwarden {' '.join(p)}`](#{anchor(p)})" for p in paths) + "\n")
    for path in paths:
        sections.append(f"## spendwarden {' '.join(path)}\n\n```\n{help_text(app, path)}\n```\n")
    return "\n".join(sections)


def anchor(path: tuple[str, ...]) -> str:
    return "spendwarden-" + "-".join(path)
