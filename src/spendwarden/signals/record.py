"""Moving the state's windows forward in time and counting a transaction into them.

``advance_to`` does work only when the minute changes (the slow path, at most once per
minute per agent); ``record_txn`` is a handful of list and dict updates. A late event
(``occurred_at`` before the newest one) is counted into every window that still holds its
time and skipped by the ones that have moved on.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from spendwarden.signals.baseline import fold_hour
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.facts import TxnFact
from spendwarden.signals.state import (
    DAY_SLOTS,
    FP_SLOTS,
    HOUR_SLOTS,
    MAX_FINGERPRINTS,
    MAX_RAILS,
    MAX_TOOLS,
    MIN_SLOTS,
    OTHER,
    RAIL_SLOTS,
    AgentSignalState,
    add_bounded,
    advance_dicts,
    advance_ints,
    clip_name,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fingerprint(fact: TxnFact) -> str:
    """The identity of a request for runaway detection: (tool, endpoint, model), as CRC-32 hex."""
    parts = (fact.tool, fact.endpoint, fact.model)
    fp = _fingerprints.get(parts)
    if fp is None:
        if len(_fingerprints) >= 10_000:
            _fingerprints.clear()
        key = f"{fact.tool}\x1f{fact.endpoint}\x1f{fact.model}"
        fp = _fingerprints[parts] = f"{zlib.crc32(key.encode()):x}"
    return fp


_fingerprints: dict[tuple[str | None, str | None, str | None], str] = {}


def is_tool_call(fact: TxnFact) -> bool:
    return fact.kind == "tool_call" or fact.tool is not None


def advance_to(state: AgentSignalState, ts: int, cfg: SignalConfig) -> None:
    """Move every window forward to ``ts`` (never backwards)."""
    minute = ts // 60
    if minute <= state.m_head:
        return
    state.m_head = advance_ints(
        (state.m_spend, state.m_count, state.m_retry, state.m_fail), state.m_head, minute, MIN_SLOTS
    )
    state.f_head = advance_dicts(state.f_slots, state.f_tot, state.f_head, minute)
    _advance_rails(state, minute // 5)
    _advance_hours(state, minute // 60, cfg)
    _advance_days(state, minute // 1440)


def _advance_rails(state: AgentSignalState, step: int) -> None:
    if step > state.r_head:
        advance_ints((state.r_count,), state.r_head, step, RAIL_SLOTS)
        state.r_head = advance_dicts(state.r_spend, state.r_tot, state.r_head, step)


def _advance_hours(state: AgentSignalState, hour: int, cfg: SignalConfig) -> None:
    if hour > state.h_head:
        advance_ints((state.h_spend,), state.h_head, hour, HOUR_SLOTS)
        state.h_head = advance_dicts(state.h_tools, state.t_tot, state.h_head, hour)
    if hour > state.c_hour:
        fold_hour(state, cfg)
        state.c_hour, state.c_spend, state.c_count, state.c_minutes, state.c_last_min = hour, 0, 0, 0, -1
        state.c_rails = {}


def _advance_days(state: AgentSignalState, day: int) -> None:
    if day <= state.d_head:
        return
    state.d_head = advance_ints((state.d_spend,), state.d_head, day, DAY_SLOTS)
    state.k_head = advance_ints((state.k_cost, state.k_count), state.k_head, day, len(state.k_cost))
    prior = [state.d_spend[i % DAY_SLOTS] for i in range(day - 7, day)]
    active = [x for x in prior if x > 0]
    state.d_prior_avg = sum(active) / len(active) if active else 0.0
    start = _EPOCH + timedelta(days=day)
    month_start = int(start.replace(day=1).timestamp())
    if month_start > state.mo_key:
        nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        state.mo_key, state.mo_end, state.mo_spend, state.bt_levels = month_start, int(nxt.timestamp()), 0, []


def record_txn(state: AgentSignalState, fact: TxnFact, ts: int) -> str:
    """Count one spending transaction (already advanced to) into every window; return its
    request fingerprint."""
    amount = fact.amount
    minute = ts // 60
    if state.m_head - minute < MIN_SLOTS:
        i = minute % MIN_SLOTS
        state.m_spend[i] += amount
        state.m_count[i] += 1
        if fact.attempt > 1:
            state.m_retry[i] += amount
        if fact.status == "failed":
            state.m_fail[i] += 1
    fp = fingerprint(fact)
    if state.f_head - minute < FP_SLOTS:
        add_bounded(state.f_slots[minute % FP_SLOTS], state.f_tot, fp, 1, MAX_FINGERPRINTS)
    step = minute // 5
    if state.r_head - step < RAIL_SLOTS:
        add_bounded(
            state.r_spend[step % RAIL_SLOTS], state.r_tot, clip_name(fact.rail), amount, MAX_RAILS, OTHER
        )
        state.r_count[step % RAIL_SLOTS] += 1
    _record_hour(state, fact, minute)
    day = minute // 1440
    if state.d_head - day < DAY_SLOTS:
        state.d_spend[day % DAY_SLOTS] += amount
    if state.mo_key <= ts < state.mo_end:
        state.mo_spend += amount
    state.n_events += 1
    if state.first_ts < 0 or ts < state.first_ts:
        state.first_ts = ts
    if ts > state.last_ts:
        state.last_ts = ts
    return fp


def _record_hour(state: AgentSignalState, fact: TxnFact, minute: int) -> None:
    hour = minute // 60
    if state.h_head - hour < HOUR_SLOTS:
        state.h_spend[hour % HOUR_SLOTS] += fact.amount
        if fact.tool is not None:
            add_bounded(
                state.h_tools[hour % HOUR_SLOTS],
                state.t_tot,
                clip_name(fact.tool),
                fact.amount,
                MAX_TOOLS,
                OTHER,
            )
    if hour == state.c_hour:
        state.c_spend += fact.amount
        state.c_count += 1
        if minute > state.c_last_min:
            state.c_minutes += 1
            state.c_last_min = minute
        rails = state.c_rails
        rail = clip_name(fact.rail)
        if rail in rails or len(rails) < MAX_RAILS:
            rails[rail] = rails.get(rail, 0) + fact.amount
