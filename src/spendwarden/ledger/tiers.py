"""Tier presets (DESIGN.md §2): caps and auto-halt rules a new agent starts with.

Every value can be overridden per agent. Amounts are micro-dollars.
"""

from __future__ import annotations

from typing import Any

from spendwarden.money import usd

TIERS = ("experimental", "staging", "production", "custom")

PRESET_CAPS: dict[str, dict[str, int]] = {
    "experimental": {"per_task": usd("0.50"), "daily": usd("5.00")},
    "staging": {"per_task": usd("5.00"), "daily": usd("50.00")},
    "production": {"per_task": usd("25.00"), "daily": usd("250.00")},
    "custom": {},
}

PRESET_HALT_RULES: dict[str, dict[str, Any]] = {
    "experimental": {"max_single_charge": usd("1.00")},
    "staging": {"daily_vs_prior_day": 1.5},
    "production": {"hourly_vs_rolling_avg": 3.0},
    "custom": {},
}


def preset_caps(tier: str) -> dict[str, int]:
    return dict(PRESET_CAPS[tier])


def preset_halt_rules(tier: str) -> dict[str, Any]:
    return dict(PRESET_HALT_RULES[tier])
