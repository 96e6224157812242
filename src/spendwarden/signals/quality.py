"""``retry_cost`` and ``failure_rate`` over the last ``quality_window_minutes``."""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.state import AgentSignalState, ring_sum


@dataclass(frozen=True, slots=True)
class Quality:
    spend: int
    retry_spend: int
    calls: int
    failures: int

    @property
    def retry_ratio(self) -> float:
        return self.retry_spend / self.spend if self.spend > 0 else 0.0

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls > 0 else 0.0


def measure(state: AgentSignalState, cfg: SignalConfig) -> Quality:
    w, head = cfg.quality_window_minutes, state.m_head
    return Quality(
        ring_sum(state.m_spend, head, head, w),
        ring_sum(state.m_retry, head, head, w),
        ring_sum(state.m_count, head, head, w),
        ring_sum(state.m_fail, head, head, w),
    )


def too_few_calls(state: AgentSignalState, cfg: SignalConfig) -> bool:
    """True when the window holds fewer calls than either rule needs (both checks return None)."""
    w, head = cfg.quality_window_minutes, state.m_head
    calls = ring_sum(state.m_count, head, head, w)
    return calls < cfg.retry_min_calls and calls < cfg.failure_min_calls


def check_retry(q: Quality, cfg: SignalConfig) -> Hit | None:
    if (
        q.spend < cfg.retry_min_spend
        or q.calls < cfg.retry_min_calls
        or q.retry_ratio <= cfg.retry_cost_share
    ):
        return None
    figures = {
        "retry_spend_usd": usd(q.retry_spend),
        "spend_usd": usd(q.spend),
        "ratio": ratio(q.retry_ratio),
        "threshold": cfg.retry_cost_share,
        "window_minutes": cfg.quality_window_minutes,
    }
    return Hit(
        "retry_cost",
        "warning",
        "Retries are costing money",
        f"Retries were {q.retry_ratio:.0%} of {usd(q.spend)} spent in {cfg.quality_window_minutes} min.",
        figures,
    )


def check_failures(q: Quality, cfg: SignalConfig) -> Hit | None:
    if q.calls < cfg.failure_min_calls or q.failure_rate <= cfg.failure_rate:
        return None
    figures = {
        "failed_calls": q.failures,
        "calls": q.calls,
        "failure_rate": ratio(q.failure_rate),
        "threshold": cfg.failure_rate,
        "window_minutes": cfg.quality_window_minutes,
    }
    return Hit(
        "failure_rate",
        "warning",
        "High failure rate",
        f"{q.failures} of {q.calls} calls failed in {cfg.quality_window_minutes} min.",
        figures,
    )
