"""Cap arithmetic: pure functions over plain integers (micro-dollars).

``spent`` always means what already counts against a cap: settled spend in the cap's
current window plus every open hold. Checking and headroom are separate from storage so
they can be property-tested exhaustively.
"""

from __future__ import annotations

from dataclasses import dataclass

CAP_NAMES = ("per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total")

Caps = dict[str, int]


@dataclass(frozen=True)
class CapDenial:
    """Which cap would break, with the numbers a person needs to decide."""

    cap: str
    limit: int
    spent: int
    requested: int


def first_denial(caps: Caps, spent: dict[str, int], amount: int) -> CapDenial | None:
    """The first cap (in ``CAP_NAMES`` order) that ``amount`` more would exceed, if any."""
    for cap in CAP_NAMES:
        limit = caps.get(cap)
        if limit is None:
            continue
        used = 0 if cap == "per_transaction" else spent.get(cap, 0)
        if used + amount > limit:
            return CapDenial(cap=cap, limit=limit, spent=used, requested=amount)
    return None


def headroom(caps: Caps, spent: dict[str, int]) -> dict[str, int]:
    """What may still be spent under each configured cap (never negative)."""
    room: dict[str, int] = {}
    for cap in CAP_NAMES:
        limit = caps.get(cap)
        if limit is None:
            continue
        used = 0 if cap == "per_transaction" else spent.get(cap, 0)
        room[cap] = max(limit - used, 0)
    return room


def breaches(caps: Caps, settled: dict[str, int], amount: int) -> list[CapDenial]:
    """Caps that recorded spend has pushed past (after ``amount`` was added to ``settled``)."""
    found: list[CapDenial] = []
    for cap in CAP_NAMES:
        limit = caps.get(cap)
        if limit is None:
            continue
        used = amount if cap == "per_transaction" else settled.get(cap, 0)
        if used > limit:
            found.append(CapDenial(cap=cap, limit=limit, spent=used - amount, requested=amount))
    return found


def utilization(caps: Caps, spent: dict[str, int]) -> dict[str, float]:
    """Fraction of each window cap in use (per_transaction has no utilisation)."""
    return {
        cap: (spent.get(cap, 0) / limit if limit else 1.0)
        for cap, limit in caps.items()
        if cap != "per_transaction" and limit is not None
    }
