"""Unusual *where* and *when*: ``new_endpoint``, ``off_hours``, ``tool_concentration``.

``new_endpoint`` remembers up to ``MAX_SEEN`` vendors, endpoints and tools per agent (as
CRC-32 hex strings with their first-seen time). It stays quiet during the learning period
(``new_endpoint_learning_hours`` since the first event *and*
``new_endpoint_learning_events`` events); once a kind is full, novelty of that kind is no
longer news and it stops alerting rather than forgetting old names.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.facts import ActiveHours, TxnFact
from spendwarden.signals.state import MAX_SEEN, OTHER, AgentSignalState, ring_sum


def learned(state: AgentSignalState, ts: int, cfg: SignalConfig) -> bool:
    return (
        state.first_ts >= 0
        and state.n_events >= cfg.new_endpoint_learning_events
        and ts - state.first_ts >= cfg.new_endpoint_learning_hours * 3600
    )


_codes: dict[str, str] = {}


def _code(name: str) -> str:
    """A name's CRC-32 hex, remembered (the same few names come with every event)."""
    if len(_codes) >= 10_000:
        _codes.clear()
    code = _codes[name] = f"{zlib.crc32(name.encode()):08x}"
    return code


def check_new(state: AgentSignalState, fact: TxnFact, ts: int, cfg: SignalConfig) -> list[Hit]:
    """Learn the fact's vendor, endpoint and tool; one Hit per name never seen before."""
    hits: list[Hit] = []
    ripe = learned(state, ts, cfg)
    for kind, name in (("vendor", fact.vendor), ("endpoint", fact.endpoint), ("tool", fact.tool)):
        if name is None:
            continue
        seen = state.seen[kind]
        code = _codes.get(name)
        if code is None:
            code = _code(name)
        if code in seen or len(seen) >= MAX_SEEN:
            continue
        seen[code] = ts
        if ripe:
            figures = {
                "kind": kind,
                "name": name,
                "known": len(seen) - 1,
                "amount_usd": usd(fact.amount),
                "rail": fact.rail,
            }
            hits.append(
                Hit(
                    "new_endpoint",
                    "info",
                    f"New {kind}: {name[:80]}",
                    f"The agent used a {kind} it has never used before: {name[:200]}.",
                    figures,
                    cond=f"new_endpoint:{kind}:{code}",
                )
            )
    return hits


def check_off_hours(hours: ActiveHours, fact: TxnFact) -> Hit | None:
    """A Hit when the spend is outside active hours; ``None`` when inside."""
    if hours.contains(fact.occurred_at):
        return None
    figures = {
        "amount_usd": usd(fact.amount),
        "occurred_at": fact.occurred_at.isoformat(),
        "active_hours": hours.to_json(),
    }
    return Hit(
        "off_hours",
        "warning",
        "Spend outside active hours",
        f"The agent spent {usd(fact.amount)} at {fact.occurred_at.isoformat()}, outside its active hours.",
        figures,
    )


def off_hours_over(
    state: AgentSignalState, hours: ActiveHours | None, now: datetime, cfg: SignalConfig
) -> bool:
    """Whether an off-hours episode has ended (back in hours, or quiet for a while)."""
    if hours is None or hours.contains(now):
        return True
    return ring_sum(state.m_spend, state.m_head, state.m_head, cfg.off_hours_quiet_minutes) == 0


def check_tool_share(state: AgentSignalState, tool: str | None, cfg: SignalConfig) -> Hit | None:
    if tool is None or tool == OTHER:
        return None
    total = sum(state.h_spend)
    if total < cfg.tool_concentration_min_spend:
        return None
    spent = state.t_tot.get(tool[:64], 0)
    share = spent / total
    if share <= cfg.tool_concentration_share:
        return None
    figures = {
        "tool": tool,
        "share_24h": ratio(share),
        "tool_spend_usd": usd(spent),
        "spend_24h_usd": usd(total),
        "threshold": cfg.tool_concentration_share,
    }
    return Hit(
        "tool_concentration",
        "info",
        f"Spend concentrated on {tool}",
        f"{tool} took {share:.0%} of {usd(total)} spent in 24 h.",
        figures,
        extra=tool,
    )
