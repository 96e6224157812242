"""Per-agent streaming detector state: small, bounded, JSON-serialisable.

It lives in the agent's state row and is updated inside the agent's write transaction.
Every window is a fixed ring keyed by a *head* (the newest slot's time index): slot
``i % size`` holds time index ``i`` for ``head - size < i <= head``; moving the head
forward zeroes the slots it passes. Sets are capped (``MAX_*``), so the JSON stays a few
KB whatever the agent does. Identifiers that only need recognising (request fingerprints,
seen vendors/endpoints/tools) are kept as CRC-32 hex strings, not as their text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

VERSION = 1
MIN_SLOTS = 60  # one-minute buckets: spend, count, retry spend, failures
RAIL_SLOTS = 12  # five-minute buckets of spend per rail (last hour)
RAIL_STEP = 300
FP_SLOTS = 10  # one-minute buckets of request fingerprints (last 10 min)
HOUR_SLOTS = 25  # hourly spend and spend per tool: the current hour and the 24 before it
DAY_SLOTS = 35  # daily spend (burn, forecast)
COST_DAYS = 14  # completed-task cost per day (cost_per_task_drift)
MAX_RAILS = 12
MAX_TOOLS = 32
MAX_FINGERPRINTS = 64
MAX_SEEN = 500
MAX_TASKS = 64
MAX_NAME = 64
SEEN_KINDS = ("vendor", "endpoint", "tool")
OTHER = "(other)"


@dataclass(slots=True)
class TaskState:
    """An open task: times in epoch seconds, ``cost`` in micros."""

    started: int
    progress: int  # last progress (or start) time
    last_charge: int = -1
    cost: int = 0
    tool_calls: int = 0
    max_tool_calls: int | None = None
    tools: tuple[str, ...] | None = None  # allowed tools, None = any
    explicit: bool = True  # False: opened implicitly by a transaction naming the task

    def to_json(self) -> list[Any]:
        return [
            self.started,
            self.progress,
            self.last_charge,
            self.cost,
            self.tool_calls,
            self.max_tool_calls,
            list(self.tools) if self.tools is not None else None,
            self.explicit,
        ]

    @classmethod
    def from_json(cls, v: list[Any]) -> TaskState:
        tools = tuple(v[6]) if v[6] is not None else None
        return cls(v[0], v[1], v[2], v[3], v[4], v[5], tools, bool(v[7]))


def _zeros(n: int) -> list[int]:
    return [0] * n


def _dicts(n: int) -> list[dict[Any, int]]:
    return [{} for _ in range(n)]


@dataclass(slots=True)
class AgentSignalState:
    """All the streaming state of one agent's detectors. Times are epoch seconds."""

    first_ts: int = -1
    last_ts: int = -1
    n_events: int = 0
    # minute ring
    m_head: int = -1
    m_spend: list[int] = field(default_factory=lambda: _zeros(MIN_SLOTS))
    m_count: list[int] = field(default_factory=lambda: _zeros(MIN_SLOTS))
    m_retry: list[int] = field(default_factory=lambda: _zeros(MIN_SLOTS))
    m_fail: list[int] = field(default_factory=lambda: _zeros(MIN_SLOTS))
    # five-minute rail ring with running totals over the hour
    r_head: int = -1
    r_spend: list[dict[str, int]] = field(default_factory=lambda: _dicts(RAIL_SLOTS))
    r_count: list[int] = field(default_factory=lambda: _zeros(RAIL_SLOTS))
    r_tot: dict[str, int] = field(default_factory=dict)
    # minute ring of request fingerprints with running totals over 10 minutes
    f_head: int = -1
    f_slots: list[dict[str, int]] = field(default_factory=lambda: _dicts(FP_SLOTS))
    f_tot: dict[str, int] = field(default_factory=dict)
    # hourly ring: spend and spend per tool, running tool totals (current hour + 24 before)
    h_head: int = -1
    h_spend: list[int] = field(default_factory=lambda: _zeros(HOUR_SLOTS))
    h_tools: list[dict[str, int]] = field(default_factory=lambda: _dicts(HOUR_SLOTS))
    t_tot: dict[str, int] = field(default_factory=dict)
    # the hour being accumulated for the baselines
    c_hour: int = -1
    c_spend: int = 0
    c_count: int = 0
    c_minutes: int = 0
    c_last_min: int = -1
    c_rails: dict[str, int] = field(default_factory=dict)
    # adaptive baselines (EWMA over active hours)
    b_hours: int = 0
    b_usd_h: float = 0.0
    b_txm: float = 0.0
    b_rails: dict[str, float] = field(default_factory=dict)
    # daily ring and the average of the prior active days (refreshed when the day turns)
    d_head: int = -1
    d_spend: list[int] = field(default_factory=lambda: _zeros(DAY_SLOTS))
    d_prior_avg: float = 0.0
    # month to date (mo_key = the month's first second) and budget levels notified this month
    mo_key: int = -1
    mo_end: int = 0
    mo_spend: int = 0
    bt_levels: list[int] = field(default_factory=list)
    # completed-task costs per completion day
    k_head: int = -1
    k_cost: list[int] = field(default_factory=lambda: _zeros(COST_DAYS))
    k_count: list[int] = field(default_factory=lambda: _zeros(COST_DAYS))
    tasks: dict[str, TaskState] = field(default_factory=dict)
    seen: dict[str, dict[str, int]] = field(default_factory=lambda: {k: {} for k in SEEN_KINDS})
    # active conditions: slot -> [dedupe key, since ts, severity, extra]
    active: dict[str, list[Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with fresh containers: later mutation of the state does not leak."""
        return orjson.loads(self.to_text())  # type: ignore[no-any-return]

    def to_text(self) -> str:
        """The state as the JSON text its row stores. Serialised from a view that shares the
        state's own lists and dicts (nothing outlives the call), so no ring is copied: the
        copies made saving ~90 µs of every agent's write."""
        return orjson.dumps(self._view()).decode()

    def _view(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "first": self.first_ts,
            "last": self.last_ts,
            "n": self.n_events,
            "m": [self.m_head, self.m_spend, self.m_count, self.m_retry, self.m_fail],
            "r": [self.r_head, self.r_spend, self.r_count, self.r_tot],
            "f": [self.f_head, self.f_slots, self.f_tot],
            "h": [self.h_head, self.h_spend, self.h_tools, self.t_tot],
            "c": [
                self.c_hour,
                self.c_spend,
                self.c_count,
                self.c_minutes,
                self.c_last_min,
                self.c_rails,
            ],
            "b": [self.b_hours, self.b_usd_h, self.b_txm, self.b_rails],
            "d": [self.d_head, self.d_spend, self.d_prior_avg],
            "mo": [self.mo_key, self.mo_end, self.mo_spend, self.bt_levels],
            "k": [self.k_head, self.k_cost, self.k_count],
            "tasks": {k: t.to_json() for k, t in self.tasks.items()},
            "seen": self.seen,
            "active": self.active,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AgentSignalState:
        """Rebuild from ``to_json`` output or parsed JSON text. The state takes ``d``'s lists and
        dicts as its own (no copies: every caller passes a freshly parsed dict)."""
        if d.get("v") != VERSION:
            raise ValueError(f"unsupported signal state version {d.get('v')!r}")
        m, r, f, h, c, b = d["m"], d["r"], d["f"], d["h"], d["c"], d["b"]
        return cls(
            first_ts=d["first"],
            last_ts=d["last"],
            n_events=d["n"],
            m_head=m[0],
            m_spend=m[1],
            m_count=m[2],
            m_retry=m[3],
            m_fail=m[4],
            r_head=r[0],
            r_spend=r[1],
            r_count=r[2],
            r_tot=r[3],
            f_head=f[0],
            f_slots=f[1],
            f_tot=f[2],
            h_head=h[0],
            h_spend=h[1],
            h_tools=h[2],
            t_tot=h[3],
            c_hour=c[0],
            c_spend=c[1],
            c_count=c[2],
            c_minutes=c[3],
            c_last_min=c[4],
            c_rails=c[5],
            b_hours=b[0],
            b_usd_h=float(b[1]),
            b_txm=float(b[2]),
            b_rails=b[3],
            d_head=d["d"][0],
            d_spend=d["d"][1],
            d_prior_avg=float(d["d"][2]),
            mo_key=d["mo"][0],
            mo_end=d["mo"][1],
            mo_spend=d["mo"][2],
            bt_levels=d["mo"][3],
            k_head=d["k"][0],
            k_cost=d["k"][1],
            k_count=d["k"][2],
            tasks={k: TaskState.from_json(v) for k, v in d["tasks"].items()},
            seen=d["seen"],
            active=d["active"],
        )

    def copy(self) -> AgentSignalState:
        """An independent copy (the engine mutates the state it is given)."""
        return AgentSignalState.from_json(self.to_json())


def spend_prev_24h(state: AgentSignalState) -> int:
    """Spend in the 24 complete hours before the current one."""
    return sum(state.h_spend) - state.h_spend[state.h_head % HOUR_SLOTS] if state.h_head >= 0 else 0


def clip_name(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[:MAX_NAME]


def advance_ints(lists: tuple[list[int], ...], head: int, new: int, size: int) -> int:
    """Move a ring's head to ``new``, zeroing the slots it passes; return the head."""
    if new <= head:
        return head
    if head < 0 or new - head >= size:
        for lst in lists:
            lst[:] = [0] * size
        return new
    start, stop = (head + 1) % size, new % size + 1  # the slots passed, as at most two slices
    if start < stop:
        for lst in lists:
            lst[start:stop] = _ZEROS[: stop - start]
    else:
        for lst in lists:
            lst[start:] = _ZEROS[: size - start]
            lst[:stop] = _ZEROS[:stop]
    return new


_ZEROS = [0] * 4096


def advance_dicts(slots: list[dict[Any, int]], totals: dict[Any, int], head: int, new: int) -> int:
    """Like ``advance_ints`` for rings of counters, keeping ``totals`` equal to their sum."""
    if new <= head:
        return head
    size = len(slots)
    if head < 0 or new - head >= size:
        for s in slots:
            s.clear()
        totals.clear()
        return new
    for i in range(head + 1, new + 1):
        slot = slots[i % size]
        if not slot:
            continue
        for key, value in slot.items():
            left = totals.get(key, 0) - value
            if left > 0:
                totals[key] = left
            else:
                totals.pop(key, None)
        slot.clear()
    return new


def add_bounded(
    slot: dict[Any, int], totals: dict[Any, int], key: Any, value: int, cap: int, overflow: Any = None
) -> None:
    """Count ``value`` under ``key``; past ``cap`` distinct keys, use ``overflow`` (or drop)."""
    if key not in totals and len(totals) >= cap:
        if overflow is None:
            return
        key = overflow
    slot[key] = slot.get(key, 0) + value
    totals[key] = totals.get(key, 0) + value


def ring_sum(values: list[int], head: int, upto: int, width: int) -> int:
    """Sum of the ``width`` time indices ending at ``upto`` that the ring still holds."""
    size = len(values)
    if upto == head and 0 < width <= size:
        end = head % size + 1
        start = end - width
        return sum(values[start:end]) if start >= 0 else sum(values[start:]) + sum(values[:end])
    lo = max(upto - width + 1, head - size + 1)
    hi = min(upto, head)
    return sum(values[i % size] for i in range(lo, hi + 1))
