"""Spending policy: allowed/blocked vendors, allowed rails and tools (absent = all)."""

from __future__ import annotations

from dataclasses import dataclass

POLICY_KEYS = ("allowed_vendors", "blocked_vendors", "allowed_rails", "allowed_tools")


@dataclass(frozen=True)
class PolicyViolation:
    rule: str
    value: str | None
    message: str


def policy_violation(
    policy: dict[str, list[str]], *, vendor: str | None, rail: str | None, tool: str | None
) -> PolicyViolation | None:
    """The first policy rule the spend breaks, or None."""
    blocked = policy.get("blocked_vendors")
    if blocked and vendor is not None and vendor in blocked:
        return PolicyViolation("blocked_vendors", vendor, f"vendor {vendor!r} is blocked")
    for rule, value, what in (
        ("allowed_vendors", vendor, "vendor"),
        ("allowed_rails", rail, "rail"),
        ("allowed_tools", tool, "tool"),
    ):
        allowed = policy.get(rule)
        if allowed is not None and value not in allowed:
            return PolicyViolation(rule, value, f"{what} {value!r} is not in {rule}")
    return None
