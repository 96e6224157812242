"""Small Markdown helpers shared by the generators."""

from __future__ import annotations


def cell(text: str) -> str:
    """Safe inside a table cell: no pipes, no line breaks."""
    return " ".join(text.replace("|", "\\|").split())


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
