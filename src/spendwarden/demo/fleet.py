"""The demo fleet: who the agents are and what a normal hour of their work costs.

Each agent has a mix of calls (LLM calls priced from tokens, tool calls, payments over
Stripe, L402 and card) with a median cost, a rate per hour at the peak-normalised level of
its day and the time zone its team works in. The same profiles drive the week of
history and the live traffic, so the detectors' baselines match what they then see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spendwarden.ledger.tiers import preset_halt_rules

# USD per million tokens (input, output): list prices of the day, good enough for a demo.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "text-embedding-3-small": (0.02, 0.0),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "gemini-2.5-flash": (0.30, 2.50),
}
# Tier halt rules that compare with the hours or the day before: while a week is back-filled,
# the first busy hour has nothing before it and would halt every agent. They go on after it.
AFTER_HISTORY = ("hourly_vs_rolling_avg", "daily_vs_prior_day")
VENDOR_OF_MODEL = {
    "gpt-4o-mini": "openai",
    "gpt-4.1": "openai",
    "gpt-4.1-mini": "openai",
    "text-embedding-3-small": "openai",
    "claude-sonnet-4-5": "anthropic",
    "claude-haiku-4-5": "anthropic",
    "gemini-2.5-flash": "google",
}


@dataclass(frozen=True)
class Call:
    """One kind of spend: an LLM call (``model`` and ``tokens``) or a priced tool/payment (``usd``)."""

    weight: float
    model: str | None = None
    tokens: tuple[int, int] = (0, 0)  # median input, output tokens
    usd: float = 0.0
    rail: str = "llm_api"
    vendor: str | None = None
    tool: str | None = None
    endpoint: str | None = None
    kind: str = "llm_call"
    sats_per_usd: int = 0  # L402: the native amount travels as original_amount in SAT

    def fields(self) -> dict[str, Any]:
        """The transaction fields every call of this kind shares."""
        vendor = self.vendor or VENDOR_OF_MODEL.get(self.model or "", None)
        out: dict[str, Any] = {"rail": self.rail, "kind": self.kind, "vendor": vendor}
        for name in ("model", "tool", "endpoint"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    owner: str
    tier: str
    per_hour: float  # transactions per hour on an average hour of a weekday
    calls: tuple[Call, ...]
    utc_offset: int = 0  # the team's time zone: the day peaks at 14:00 local time
    weekend: float = 0.85  # weekend traffic relative to weekdays
    task_size: int = 0  # calls per task on average (0 = no tasks)
    users: int = 0  # distinct end users served (0 = none)
    caps: dict[str, str] = field(default_factory=dict)

    def create_body(self, agent_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"id": agent_id, "name": self.name, "owner": self.owner, "tier": self.tier}
        if self.caps:
            body["caps"] = dict(self.caps)
        body["halt_rules"] = dict.fromkeys(self.halt_rules_after_history())
        body["labels"] = {"demo": "true"}
        return body

    def halt_rules_after_history(self) -> dict[str, Any]:
        return {k: v for k, v in preset_halt_rules(self.tier).items() if k in AFTER_HISTORY}


def llm(weight: float, model: str, tokens: tuple[int, int], **kw: Any) -> Call:
    return Call(weight, model=model, tokens=tokens, **kw)


def tool(weight: float, name: str, vendor: str, usd: float, endpoint: str, rail: str = "card") -> Call:
    return Call(weight, usd=usd, rail=rail, vendor=vendor, tool=name, endpoint=endpoint, kind="tool_call")


def payment(weight: float, vendor: str, usd: float, rail: str, endpoint: str, sats: int = 0) -> Call:
    return Call(
        weight, usd=usd, rail=rail, vendor=vendor, endpoint=endpoint, kind="payment", sats_per_usd=sats
    )


EXA = "https://api.exa.ai/search"
SUMMARIZE = (3_000, 240)  # the researcher's summarising call: the one the runaway loop repeats
FLEET: tuple[Profile, ...] = (
    Profile(
        "crawler",
        "Web crawler",
        "search-team",
        "production",
        8,
        (
            tool(0.55, "fetch_page", "scrapfly", 0.002, "https://api.scrapfly.io/scrape"),
            llm(0.45, "gpt-4.1-mini", (12_000, 600)),
        ),
        task_size=25,
    ),
    Profile(
        "researcher",
        "Deep research",
        "research",
        "staging",
        16,
        (
            llm(0.35, "claude-sonnet-4-5", (3_000, 300)),
            llm(0.3, "claude-haiku-4-5", SUMMARIZE),
            tool(0.35, "web_search", "exa", 0.005, EXA),
        ),
        utc_offset=-5,
        task_size=20,
    ),
    Profile(
        "support-bot",
        "Support assistant",
        "customer-success",
        "production",
        24,
        (
            llm(0.6, "claude-sonnet-4-5", (12_000, 1_200)),
            llm(0.25, "claude-haiku-4-5", (3_000, 400)),
            llm(0.15, "text-embedding-3-small", (800, 0), kind="embedding"),
        ),
        utc_offset=1,
        task_size=12,
        users=400,
    ),
    Profile(
        "billing-agent",
        "Accounts payable",
        "finance",
        "custom",
        24,
        (
            payment(0.4, "stripe", 0.12, "stripe", "https://api.stripe.com/v1/payment_intents"),
            llm(0.6, "gpt-4.1", (4_000, 600)),
        ),
        caps={"daily": "80", "monthly": "1500"},
    ),
    Profile(
        "sales-assistant",
        "Sales assistant",
        "sales",
        "staging",
        6,
        (
            llm(0.7, "gpt-4.1-mini", (5_000, 800)),
            tool(0.3, "enrich_contact", "clearbit", 0.004, "https://person.clearbit.com/v2/combined"),
        ),
        utc_offset=-8,
        users=60,
    ),
    Profile(
        "code-reviewer",
        "Code reviewer",
        "platform",
        "production",
        16,
        (llm(1.0, "claude-sonnet-4-5", (4_000, 400)),),
        weekend=0.7,
        task_size=8,
    ),
    Profile(
        "translator",
        "Translator",
        "localization",
        "staging",
        8,
        (llm(1.0, "gemini-2.5-flash", (2_000, 2_000)),),
        utc_offset=2,
        weekend=0.9,
        task_size=15,
    ),
    Profile(
        "market-data",
        "Market data buyer",
        "trading-desk",
        "custom",
        6,
        (
            payment(0.6, "lnmarkets-data", 0.004, "l402", "https://data.lnmarkets.example/v1/ticks", 1_100),
            llm(0.4, "gpt-4o-mini", (6_000, 500)),
        ),
        utc_offset=-5,
        weekend=0.9,
    ),
    Profile(
        "acme-summarizer",
        "Summarizer for ACME",
        "acme-corp",
        "custom",
        10,
        (llm(1.0, "claude-haiku-4-5", (10_000, 800)),),
        utc_offset=-6,
        task_size=12,
        caps={"daily": "40", "monthly": "400"},
    ),
    Profile(
        "growth-experiment",
        "Growth experiment",
        "growth-lab",
        "experimental",
        5,
        (llm(0.7, "gpt-4o-mini", (3_000, 500)), tool(0.3, "web_search", "exa", 0.005, EXA)),
        task_size=6,
    ),
)


def profile(base_id: str) -> Profile:
    return next(p for p in FLEET if p.id == base_id)


def llm_cost(model: str, tokens_in: int, tokens_out: int) -> float:
    price_in, price_out = PRICES[model]
    return (tokens_in * price_in + tokens_out * price_out) / 1_000_000
