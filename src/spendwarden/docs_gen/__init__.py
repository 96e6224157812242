"""Reference docs generated from the code, so they cannot drift from it.

``python -m spendwarden.docs_gen`` rewrites ``docs/api.md`` (from the app's OpenAPI schema),
``docs/cli.md`` (from the real ``--help`` of every command) and ``docs/configuration.md``
(from ``Settings``); ``--check`` only compares and exits 1 when a file is stale. Output is
deterministic: sorted, no timestamps, no version numbers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from spendwarden.docs_gen.api_ref import render_api
from spendwarden.docs_gen.cli_ref import render_cli
from spendwarden.docs_gen.config_ref import render_configuration

GENERATORS: dict[str, Callable[[], str]] = {
    "api.md": render_api,
    "cli.md": render_cli,
    "configuration.md": render_configuration,
}

__all__ = ["GENERATORS", "main", "render_api", "render_cli", "render_configuration"]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if not a.startswith("--")]
    out = Path(paths[0]) if paths else Path("docs")
    stale = []
    for name, render in GENERATORS.items():
        target = out / name
        text = render()
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(str(target))
            continue
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if stale:
        print("stale (run `python -m spendwarden.docs_gen`): " + ", ".join(stale))
        return 1
    return 0
