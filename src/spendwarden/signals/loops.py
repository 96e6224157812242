"""``runaway_loop`` (one agent calling too fast or repeating itself) and ``payment_loop``
(money going round a circle of agents).

Runaway thresholds adapt to the agent: a rate fires at ``runaway_ratio`` x the baseline
transactions per active minute (never below ``runaway_min_tx_per_min``), and identical
requests fire at ``runaway_identical`` in 10 minutes, raised to
``runaway_identical_baseline_factor`` x the agent's normal 10-minute volume, so a crawler
that always calls the same endpoint is not a loop by being itself. An open runaway
condition ends only when both measures drop below half their thresholds (no flapping).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from spendwarden.signals import baseline
from spendwarden.signals.alerts import Hit, ratio
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.facts import TxnFact
from spendwarden.signals.state import FP_SLOTS, MIN_SLOTS, AgentSignalState

HYSTERESIS = 0.5


def tx_rate(state: AgentSignalState) -> int:
    """Transactions in the current minute or the one before, whichever is higher."""
    head = state.m_head
    return max(state.m_count[head % MIN_SLOTS], state.m_count[(head - 1) % MIN_SLOTS])


def runaway_quiet(state: AgentSignalState, fp: str | None, cfg: SignalConfig) -> bool:
    """True when ``check_runaway`` on a closed condition must return None: both of its limits
    are at least their configured floors, and neither floor is reached."""
    identical = state.f_tot.get(fp, 0) if fp is not None else 0
    return tx_rate(state) < cfg.runaway_min_tx_per_min and identical < cfg.runaway_identical


def check_runaway(
    state: AgentSignalState,
    fact: TxnFact | None,
    fp: str | None,
    active_fp: str | None,
    active: bool,
    tier: str,
    cfg: SignalConfig,
) -> Hit | None:
    base = baseline.tx_per_min(state, tier, cfg)
    rate = tx_rate(state)
    rate_limit = max(cfg.runaway_ratio * base, float(cfg.runaway_min_tx_per_min))
    ident_limit = max(
        cfg.runaway_identical, math.ceil(cfg.runaway_identical_baseline_factor * base * FP_SLOTS)
    )
    best_fp, identical = _most_repeated(state, fp, active_fp)
    keep = HYSTERESIS if active else 1.0  # an open loop ends only well below the thresholds
    if rate < rate_limit * keep and identical < ident_limit * keep:
        return None
    figures: dict[str, object] = {
        "tx_per_min": rate,
        "baseline_tx_per_min": ratio(base),
        "ratio": ratio(rate / max(base, 1e-9)),
        "tx_per_min_threshold": ratio(rate_limit),
        "identical_requests_10min": identical,
        "identical_threshold": ident_limit,
        "baseline_source": "adaptive" if baseline.mature(state, cfg) else "tier_prior",
    }
    if fact is not None and best_fp == fp:
        figures["request"] = {"tool": fact.tool, "endpoint": fact.endpoint, "model": fact.model}
    why = "identical requests" if identical >= ident_limit else "transaction rate"
    return Hit(
        "runaway_loop",
        "critical",
        "Runaway loop",
        f"{rate} transactions/min against a baseline of {base:.1f}; "
        f"{identical} identical requests in 10 min ({why}).",
        figures,
        extra=best_fp,
    )


def _most_repeated(state: AgentSignalState, fp: str | None, active_fp: str | None) -> tuple[str | None, int]:
    best, count = fp, state.f_tot.get(fp, 0) if fp is not None else 0
    if active_fp is not None and state.f_tot.get(active_fp, 0) > count:
        best, count = active_fp, state.f_tot[active_fp]
    return best, count


Edge = tuple[str, str, datetime]


def find_payment_cycle(
    edges: Iterable[Edge], start_agent: str, now: datetime, window: timedelta = timedelta(hours=24)
) -> list[str] | None:
    """The shortest cycle of payments ``start → … → start`` among ``(payer, payee, occurred_at)``
    edges within ``window`` before ``now``, e.g. ``["a", "b", "c", "a"]``; ``None`` if none.

    The integrator feeds it the recent agent-to-agent transfers from the ledger whenever a
    transfer is recorded. Ties break by agent id, so the answer is deterministic.
    """
    since = now - window
    graph: dict[str, set[str]] = {}
    for payer, payee, at in edges:
        if payer != payee and since <= at <= now:
            graph.setdefault(payer, set()).add(payee)
    parent: dict[str, str] = {start_agent: start_agent}
    queue = deque([start_agent])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start_agent:
                return _path(parent, node, start_agent)
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def _path(parent: dict[str, str], last: str, start: str) -> list[str]:
    path = [last]
    while path[-1] != start:
        path.append(parent[path[-1]])
    path.reverse()
    return [*path, start]
