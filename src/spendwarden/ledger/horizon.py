"""How long counters of closed calendar windows are kept, and which ones a spend may need back.

Window counters (``spend_counters``) are read for the windows a spend falls in and, by the
auto-halt rules, for the day and the hours before it. Once a window has closed only a late
spend (``occurred_at`` in the past) or a long rolling average still reads it. Kept forever,
they grow by up to four rows per agent for every hour with spend: at 50 million events
they were 13 GB, the largest cold index an authorization of a new agent touched.

So counters of windows that closed more than ``counter_retention_days`` ago are deleted
(``ledger/retention.py``), and a spend that needs one back rebuilds it exactly from the
agent's hourly and daily rollups, which are written in the same transaction as the
counters and never pruned. The rule that keeps this exact without knowing what was
pruned: a counter is missing either because its window had no spend or because it was
pruned, and the rollups answer both. Windows that closed less than ``GRACE_US`` ago are
never pruned (retention is at least ``MIN_RETENTION_DAYS``), so the hot path never looks.

Period keys sort in time order within a scope (``2026-11-23T09`` < ``2026-11-23T10``,
``W2026-11-16`` < ``W2026-11-23``), so "closed before the horizon" is a string comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from spendwarden.clock import from_us, to_us
from spendwarden.ledger.windows import DAY_US, HOUR_US, window_bounds, window_keys_us

# A window that closed less than this ago always has its counter (when it had spend).
GRACE_US = DAY_US
# Retention must leave a day more than the grace, so a clock a little ahead never prunes
# what a writer still trusts.
MIN_RETENTION_DAYS = 2
# The calendar windows that close; ``total`` and ``per_task`` counters never do.
CLOSING = ("hourly", "daily", "weekly", "monthly")
# Which rollup granularity holds each window whole (every window is whole hours or days).
GRANULARITY = {"hourly": "h", "daily": "d", "weekly": "d", "monthly": "d"}


@dataclass(frozen=True)
class ClosedWindow:
    """A window whose counter may have been pruned, with what rebuilds it from rollups."""

    scope: str
    period: str
    granularity: str
    start_us: int
    end_us: int


def first_kept(now_us: int, retention_days: int) -> dict[str, str]:
    """Per closing scope, the oldest period retention keeps: windows with an earlier key
    closed at or before ``now - retention`` (the window holding that moment is kept)."""
    keys = window_keys_us(now_us - retention_days * DAY_US)
    return {scope: keys[scope] for scope in CLOSING}


def is_kept(scope: str, period: str, first: dict[str, str]) -> bool:
    """Whether retention with horizon ``first`` keeps this counter."""
    oldest = first.get(scope)
    return oldest is None or period >= oldest


def window_at(scope: str, at_us: int) -> ClosedWindow:
    """The ``scope`` window containing ``at_us`` with its bounds."""
    start, end = window_bounds(scope, from_us(at_us))
    assert end is not None  # only closing scopes come here
    return ClosedWindow(scope, window_keys_us(at_us)[scope], GRANULARITY[scope], to_us(start), to_us(end))


def closed_windows(at_us: int, now_us: int) -> list[ClosedWindow]:
    """The windows a spend at ``at_us`` counts in that closed more than ``GRACE_US`` before
    ``now_us``: their counters may be gone. Empty for every spend of the last day."""
    edge = now_us - GRACE_US
    if at_us >= edge:  # every window holding ``at`` ends after it
        return []
    return [w for w in _windows_of_hour(at_us - at_us % HOUR_US) if w.end_us <= edge]


@lru_cache(maxsize=8192)
def _windows_of_hour(hour_us: int) -> tuple[ClosedWindow, ...]:
    """Windows depend only on the hour: an import of old history asks for the same few
    hours for every agent."""
    return tuple(window_at(scope, hour_us) for scope in CLOSING)


def closed_windows_of(scope: str, moments_us: list[int], now_us: int) -> list[ClosedWindow]:
    """The ``scope`` windows holding ``moments_us`` that closed more than ``GRACE_US``
    before ``now_us`` (the day and the hours the halt rules look back on). A window ends
    after every moment it holds, so moments of the last day cost nothing."""
    edge = now_us - GRACE_US
    unit = HOUR_US if scope == "hourly" else DAY_US  # a window ends no sooner than its unit
    windows = (window_at(scope, at) for at in moments_us if at - at % unit + unit <= edge)
    return [w for w in windows if w.end_us <= edge]
