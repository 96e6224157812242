"""From raw items (JSON lines, socket messages, CSV rows) to ledger rows, with one result per line.

Shared by ``POST /v1/ingest/events``, ``spendwarden import`` and ``spendwarden watch`` so
all three validate, price, dedupe and report the same way. Each item is mapped on its
own (a bad line is rejected with its error and never drops the good ones); the valid ones
are written in batches through ``record_batch``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from spendwarden.errors import SpendwardenError
from spendwarden.events import SpendEvent
from spendwarden.ingest.canonical import ParseError, parse_event
from spendwarden.ingest.common import SourceForbidden
from spendwarden.ledger.bulk import record_batch
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.pricing import priced

Mapper = Callable[[object], SpendEvent]


@dataclass
class IngestReport:
    """Per-line outcomes in input order, and their counts."""

    results: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "duplicate": 0, "rejected": 0})

    def add(self, line: int, status: str, **extra: Any) -> None:
        self.results.append({"line": line, "status": status, **extra})
        self.counts[status] += 1

    def body(self) -> dict[str, Any]:
        return {
            "accepted": self.counts["accepted"],
            "duplicates": self.counts["duplicate"],
            "rejected": self.counts["rejected"],
            "results": self.results,
        }


def canonical_mapper(
    core: LedgerCore, *, now: datetime, default_source: str, allowed_source: str | None = None
) -> Mapper:
    """Canonical JSON events: validate, enforce the token's source, price ``usage``."""

    def mapper(raw: object) -> SpendEvent:
        parsed = parse_event(raw, default_source=allowed_source or default_source, now=now)
        event = parsed.event
        if allowed_source is not None and event.source != allowed_source:
            raise SourceForbidden(
                f"This token may only write source {allowed_source!r}.", field="source", source=event.source
            )
        if parsed.needs_pricing:
            event = priced(core, event, parsed.provider, event.occurred_at or now)
        return event

    return mapper


def ingest_items(
    core: LedgerCore,
    items: Sequence[tuple[int, object | ParseError]],
    mapper: Mapper,
    *,
    batch_size: int = 5000,
    report: IngestReport | None = None,
) -> IngestReport:
    """Map every item, write the valid ones ``batch_size`` at a time; results keep input order."""
    report = report or IngestReport()
    for start in range(0, len(items), batch_size):
        _ingest_chunk(core, items[start : start + batch_size], mapper, report)
    return report


def _ingest_chunk(
    core: LedgerCore, items: Sequence[tuple[int, object | ParseError]], mapper: Mapper, report: IngestReport
) -> None:
    outcomes: list[dict[str, Any] | None] = []
    events: list[SpendEvent] = []
    positions: list[int] = []
    for line, item in items:
        try:
            if isinstance(item, ParseError):
                outcomes.append({"line": line, "status": "rejected", "error": item.to_dict()})
                continue
            event = mapper(item)
        except SpendwardenError as exc:
            outcomes.append({"line": line, "status": "rejected", "error": _error(exc)})
            continue
        positions.append(len(outcomes))
        outcomes.append(None)
        events.append(event)
    result = record_batch(core, events)
    for index, position in enumerate(positions):
        line = items[position][0]
        if index in result.accepted:
            outcomes[position] = {"line": line, "status": "accepted", "id": result.accepted[index]}
        elif index in result.duplicates:
            outcomes[position] = {
                "line": line,
                "status": "duplicate",
                "external_id": result.duplicates[index],
            }
        else:
            outcomes[position] = {"line": line, "status": "rejected", "error": result.rejected[index].error()}
    for outcome in outcomes:
        assert outcome is not None
        report.add(**outcome)


def _error(exc: SpendwardenError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def with_external_id(event: SpendEvent, external_id: str) -> SpendEvent:
    """Give an event without an external id a deterministic one (file line, socket cursor),
    so that re-reading the same input can never count it twice."""
    return event if event.external_id is not None else replace(event, external_id=external_id)
