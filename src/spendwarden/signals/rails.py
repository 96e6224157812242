"""``rail_shift``: the last hour's spend per rail against the agent's baseline rail shares.

Fires when one rail carries more than ``rail_shift_share`` of the hour while its baseline
share was below ``rail_shift_baseline_share``, or when the whole mix moved by a total
variation distance of at least ``rail_shift_tvd``. Needs a mature baseline and a minimum
hour (spend and transactions), so a lone payment after a quiet night is not a shift.
"""

from __future__ import annotations

from dataclasses import dataclass

from spendwarden.signals import baseline
from spendwarden.signals.alerts import Hit, ratio, usd
from spendwarden.signals.config import SignalConfig
from spendwarden.signals.state import AgentSignalState


@dataclass(frozen=True, slots=True)
class RailMix:
    rail: str  # the rail with the largest share of the last hour
    share: float
    baseline_share: float
    tvd: float
    shifted: bool
    total: int

    @property
    def score(self) -> float:
        """The rail component of the anomaly score: 1 when shifted, else the TVD."""
        return 1.0 if self.shifted else min(self.tvd, 1.0)


def shares(totals: dict[str, int]) -> dict[str, float]:
    total = sum(totals.values())
    return {k: v / total for k, v in sorted(totals.items())} if total > 0 else {}


def measure(state: AgentSignalState, cfg: SignalConfig) -> RailMix | None:
    if not baseline.mature(state, cfg) or not state.b_rails:
        return None
    totals = state.r_tot
    total = sum(totals.values())
    if total < cfg.rail_shift_min_spend or sum(state.r_count) < cfg.rail_shift_min_tx:
        return None
    base = state.b_rails
    rail = max(totals, key=lambda k: (totals[k], k))
    share = totals[rail] / total
    tvd = 0.5 * sum(
        abs(totals.get(k, 0) / total - base.get(k, 0.0)) for k in sorted(totals.keys() | base.keys())
    )
    shifted = (share > cfg.rail_shift_share and base.get(rail, 0.0) < cfg.rail_shift_baseline_share) or (
        tvd >= cfg.rail_shift_tvd
    )
    return RailMix(rail, share, base.get(rail, 0.0), tvd, shifted, total)


def check(mix: RailMix | None, cfg: SignalConfig) -> Hit | None:
    if mix is None or not mix.shifted:
        return None
    figures = {
        "rail": mix.rail,
        "share_last_hour": ratio(mix.share),
        "baseline_share": ratio(mix.baseline_share),
        "total_variation_distance": ratio(mix.tvd),
        "spend_last_hour_usd": usd(mix.total),
        "share_threshold": cfg.rail_shift_share,
        "tvd_threshold": cfg.rail_shift_tvd,
    }
    return Hit(
        "rail_shift",
        "warning",
        f"Rail shift to {mix.rail}",
        f"{mix.rail} carried {mix.share:.0%} of the last hour's spend (baseline {mix.baseline_share:.0%}).",
        figures,
    )
