"""Importing NDJSON/CSV files of canonical events, resumably, and exporting the ledger.

Resuming: a file is identified by its path, size and the SHA-256 of its first 64 KB; after
every committed batch the byte offset of the next unread record is stored. A crash
between a batch's commit and the stored offset re-reads that batch, which is harmless:
lines without an ``external_id`` get ``"<file digest>:<line>"`` so each counts once.

Export writes canonical events (``amount_usd`` etc.) with the original source and external
id (the row id where there was none), so exporting and importing into a fresh database
reproduces the same totals, and importing it twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from spendwarden.clock import iso, to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.events import SpendEvent
from spendwarden.ingest.canonical import ParseError
from spendwarden.ingest.pipeline import canonical_mapper, ingest_items
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.types import loads
from spendwarden.money import format_amount

HEAD_BYTES = 64 * 1024
EXPORT_FIELDS = (
    "agent_id", "amount_usd", "rail", "vendor", "tool", "endpoint", "model", "kind", "status", "attempt",
    "task_id", "user_id", "counterparty_agent_id", "description", "metadata", "source", "external_id",
    "occurred_at", "original_amount", "original_currency", "price_version", "usage",
)  # fmt: skip
USAGE_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
INT_COLUMNS = frozenset({"attempt", *USAGE_COLUMNS})


@dataclass(frozen=True)
class FileIdentity:
    path: str
    size: int
    head_sha256: str

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.path}\0{self.size}\0{self.head_sha256}".encode()).hexdigest()

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        return cls(str(path.resolve()), path.stat().st_size, hashlib.sha256(head).hexdigest())


@dataclass
class ImportState:
    """Totals over every run on this file; ``earlier`` is what runs before this one had
    counted (accepted, duplicates, rejected), so a resumed run can say what it added."""

    offset: int = 0
    line: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    earlier: tuple[int, int, int] = (0, 0, 0)

    def this_run(self) -> tuple[int, int, int]:
        a, d, r = self.earlier
        return self.accepted - a, self.duplicates - d, self.rejected - r


def records(
    fh: IO[bytes], *, is_csv: bool, start_line: int
) -> Iterator[tuple[int, int, int, object | ParseError]]:
    """``(first line, last line, offset after the record, item)`` from the position of ``fh``.

    CSV records may span lines (quoted newlines), so lines are joined until quotes balance.
    """
    header = _csv_header(fh) if is_csv else None
    if header is not None and start_line == 0:
        start_line = 1
    line = start_line
    pending, first = b"", 0
    for raw in iter(fh.readline, b""):
        line += 1
        if not pending:
            first = line
        pending += raw
        if is_csv and pending.count(b'"') % 2:
            continue
        text, pending = pending, b""
        if text.strip():
            item = _csv_item(header, text, first) if header is not None else _json_item(text, first)
            yield first, line, fh.tell(), item
    if pending.strip():
        yield first, line, fh.tell(), ParseError(first, f"Line {first} ends inside a quoted CSV field.")


def _csv_header(fh: IO[bytes]) -> list[str]:
    """The header is always the file's first line, whatever the resume offset."""
    here = fh.tell()
    fh.seek(0)
    header = next(csv.reader([fh.readline().decode("utf-8-sig")]), [])
    if here:
        fh.seek(here)
    return [name.strip() for name in header]


def _json_item(text: bytes, line: int) -> object | ParseError:
    try:
        item: object = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return ParseError(line, f"Line {line} is not valid JSON: {exc}")
    return item


def _csv_item(header: list[str], text: bytes, line: int) -> object | ParseError:
    """A CSV row as a canonical event: empty cells are absent, JSON columns and counts parsed."""
    try:
        values = next(csv.reader(io.StringIO(text.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        return ParseError(line, f"Line {line} is not a CSV record: {exc}", code="invalid_csv")
    if len(values) != len(header):
        return ParseError(
            line, f"Line {line} has {len(values)} cells; the header has {len(header)}.", "invalid_csv"
        )
    item: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    for name, value in zip(header, values, strict=True):
        if value == "":
            continue
        parsed = _cell(name, value, line)
        if isinstance(parsed, ParseError):
            return parsed
        (usage if name in USAGE_COLUMNS or name == "provider" else item)[name] = parsed
    if usage:
        item["usage"] = usage
    return item


def _cell(name: str, value: str, line: int) -> object:
    if name in ("metadata", "usage"):
        return _json_item(value.encode(), line)
    if name in INT_COLUMNS and value.strip().isdigit():
        return int(value)
    return value


def import_file(
    core: LedgerCore,
    path: Path,
    *,
    rejects: Path,
    restart: bool = False,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportState:
    """Import ``path`` in batches, continuing from the stored offset unless ``restart``."""
    ident = FileIdentity.of(path)
    state = ImportState() if restart else _load_state(core, ident)
    state.earlier = (state.accepted, state.duplicates, state.rejected)
    mapper = canonical_mapper(core, now=core.clock.now(), default_source="import")
    with path.open("rb") as fh, rejects.open("ab" if state.offset else "wb") as bad:
        fh.seek(state.offset)
        if progress is not None:
            progress(state.offset)
        batch: list[tuple[int, object | ParseError]] = []
        for first, last, end, item in records(
            fh, is_csv=path.suffix.lower() == ".csv", start_line=state.line
        ):
            batch.append((first, _keyed(item, ident, first)))
            if len(batch) >= batch_size:
                _commit(core, ident, state, batch, mapper, bad, end, last)
                batch = []
                if progress is not None:
                    progress(end)
            state.line = last
        if batch:
            _commit(core, ident, state, batch, mapper, bad, fh.tell(), state.line)
        _save_state(core, ident, state, fh.tell(), state.line)
    if progress is not None:
        progress(ident.size)
    return state


def _keyed(item: object | ParseError, ident: FileIdentity, line: int) -> object | ParseError:
    """Events without an external id get one from the file and line, so a re-read counts once."""
    if isinstance(item, dict) and item.get("external_id") is None:
        return {**item, "external_id": f"file:{ident.head_sha256[:16]}:{line}"}
    return item


def _commit(
    core: LedgerCore,
    ident: FileIdentity,
    state: ImportState,
    batch: list[tuple[int, object | ParseError]],
    mapper: Callable[[object], SpendEvent],
    bad: IO[bytes],
    end: int,
    last_line: int,
) -> None:
    report = ingest_items(core, batch, mapper, batch_size=len(batch))
    for result in report.results:
        if result["status"] == "rejected":
            bad.write(orjson.dumps({"line": result["line"], "error": result["error"]}) + b"\n")
    bad.flush()
    state.accepted += report.counts["accepted"]
    state.duplicates += report.counts["duplicate"]
    state.rejected += report.counts["rejected"]
    _save_state(core, ident, state, end, last_line)


def _load_state(core: LedgerCore, ident: FileIdentity) -> ImportState:
    with core.store.read() as conn:
        row = qi.get_import_progress(conn, ident.id)
    if row is None:
        return ImportState()
    return ImportState(row["offset"], row["line"], row["accepted"], row["duplicates"], row["rejected"])


def _save_state(core: LedgerCore, ident: FileIdentity, state: ImportState, offset: int, line: int) -> None:
    state.offset, state.line = offset, line
    with core.store.write() as conn:
        qi.put_import_progress(
            conn,
            {
                "id": ident.id,
                "path": ident.path,
                "size": ident.size,
                "head_sha256": ident.head_sha256,
                "offset": offset,
                "line": line,
                "accepted": state.accepted,
                "duplicates": state.duplicates,
                "rejected": state.rejected,
                "updated_at": to_us(core.clock.now()),
            },
        )


# --- export -----------------------------------------------------------------------------


def export_rows(
    core: LedgerCore, *, agent_id: str | None, since: int | None, until: int | None, page: int = 5000
) -> Iterator[dict[str, Any]]:
    """Ledger rows as canonical events, oldest id first, in keyset pages."""
    after: str | None = None
    while True:
        with core.store.read() as conn:
            rows = qi.ledger_rows(conn, agent_id=agent_id, since=since, until=until, after=after, limit=page)
        for row in rows:
            yield canonical_event(row)
        if len(rows) < page:
            return
        after = rows[-1]["id"]


def canonical_event(row: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        name: row.get(name)
        for name in EXPORT_FIELDS
        if name not in ("amount_usd", "metadata", "occurred_at", "usage", "external_id")
    }
    event["amount_usd"] = format_amount(row["amount"])
    event["metadata"] = loads(row.get("metadata"), None)
    event["external_id"] = row.get("external_id") or row["id"]
    event["occurred_at"] = iso(row["occurred_at"])
    if row.get("input_tokens") is not None and row.get("model"):
        event["usage"] = {name: row.get(name) or 0 for name in USAGE_COLUMNS}
    return {k: v for k, v in event.items() if v is not None}


def write_export(rows: Iterator[dict[str, Any]], out: IO[bytes], fmt: str) -> int:
    """NDJSON, or CSV with canonical column names (usage as token columns); returns the count."""
    count = 0
    if fmt == "ndjson":
        for event in rows:
            out.write(orjson.dumps(event) + b"\n")
            count += 1
        return count
    columns = [name for name in EXPORT_FIELDS if name != "usage"] + list(USAGE_COLUMNS)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for event in rows:
        count += 1
        flat = {**event, **event.get("usage", {})}
        if "metadata" in flat:
            flat["metadata"] = orjson.dumps(flat["metadata"]).decode()
        writer.writerow(flat)
    text.detach()
    return count
