"""Request and response shapes of the HTTP API (Pydantic v2).

Amounts come in as ``amount_usd`` (a JSON number or a decimal string with at most six
decimals) and are parsed straight to integer micro-dollars; they leave as strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from spendwarden.clock import utc
from spendwarden.errors import ValidationFailed
from spendwarden.ledger.halt import validate_halt_rules
from spendwarden.money import parse_amount
from spendwarden.signals.config import validate_overrides
from spendwarden.text import REASON, nul_at

AMOUNT_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,6})?$"},
    ],
    "description": "US dollars: a JSON number or decimal string, at most 6 decimals.",
    "examples": ["0.004500"],
}

AmountUSD = Annotated[int, BeforeValidator(parse_amount), WithJsonSchema(AMOUNT_SCHEMA)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$", min_length=1, max_length=64)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000, description="Why; goes to the audit log.")]
CapName = Literal["per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total"]
Tier = Literal["experimental", "staging", "production", "custom"]


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON is stored with orjson: refuse what it cannot store (integers beyond
    64 bits, lone surrogates) with a 422 instead of failing at write time."""
    try:
        orjson.dumps(value)
    except TypeError as exc:
        raise ValueError(f"not storable as JSON: {exc}") from None
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]
Metadata = Annotated[JsonObject, Field(max_length=64)]


def _utc_moment(value: datetime) -> datetime:
    """An aware moment that is still one in UTC: ``0001-01-01T00:00+12:26`` is not, and
    failed deep in the query instead of answering 422."""
    try:
        utc(value)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_utc_moment)]


class Strict(BaseModel):
    """A request body: unknown fields refused, and no text holding NUL (``text.py``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        for name, value in self.__dict__.items():
            if value is None or isinstance(value, BaseModel):
                continue  # an unset field (most of a body); a nested body checked itself
            where = nul_at(value, name)
            if where is not None:
                raise ValueError(f"{where} {REASON}")
        return self


class Policy(Strict):
    allowed_vendors: list[Short] | None = None
    blocked_vendors: list[Short] | None = None
    allowed_rails: list[Short] | None = None
    allowed_tools: list[Short] | None = None


class ActiveHours(Strict):
    """When the agent is expected to spend, in UTC; spend outside raises ``off_hours``."""

    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])
    start: str = Field("00:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field("24:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


MONEY_HALT_RULES = ("max_single_charge", "min_hourly_baseline")


class AgentSettingsChecks(Strict):
    """Halt rules and signal thresholds are free-form JSON on the wire; check them here so a
    typo is a 422 naming the key instead of a rule that silently never fires."""

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        halt_rules = getattr(self, "halt_rules", None)
        signals = getattr(self, "signals", None)
        try:
            if halt_rules:
                for key in MONEY_HALT_RULES:  # amounts in USD on the wire, micros inside
                    if halt_rules.get(key) is not None:
                        halt_rules[key] = parse_amount(halt_rules[key], field=f"halt_rules.{key}")
                validate_halt_rules(halt_rules)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="halt_rules") from None
        try:
            if signals:
                validate_overrides(signals)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="signals") from None
        return self


class AgentCreate(AgentSettingsChecks):
    id: Slug
    name: Short | None = None
    owner: Annotated[str, Field(max_length=200)] = ""
    tier: Tier = "experimental"
    caps: dict[CapName, AmountUSD | None] = Field(default_factory=dict)
    halt_rules: JsonObject = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    active_hours: ActiveHours | None = None
    task_scope: JsonObject | None = None
    silence_minutes: Annotated[int, Field(ge=1, le=10080)] = 15
    labels: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict, max_length=50)
    signals: JsonObject = Field(default_factory=dict)


class AgentUpdate(AgentSettingsChecks):
    name: Short | None = None
    owner: Annotated[str, Field(max_length=200)] | None = None
    tier: Tier | None = None
    caps: dict[CapName, AmountUSD | None] | None = None
    halt_rules: JsonObject | None = None
    policy: Policy | None = None
    active_hours: ActiveHours | None = None
    task_scope: JsonObject | None = None
    silence_minutes: Annotated[int, Field(ge=1, le=10080)] | None = None
    labels: dict[str, Annotated[str, Field(max_length=200)]] | None = None
    signals: JsonObject | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _null_only_where_it_clears(self) -> Self:
        """``null`` clears ``active_hours`` and ``task_scope``; the other settings always
        have a value, so ``null`` for one of them is refused (leave it out to keep it; ``{}``
        empties a mapping; a cap is removed by ``{"caps": {"daily": null}}``). It used to
        reach the database as a 500."""
        for name in sorted(self.model_fields_set - {"active_hours", "task_scope", "reason"}):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null: leave it out to keep it as it is")
        return self


class ReasonBody(Strict):
    reason: Reason


class KeyCreate(Strict):
    label: Short | None = None


class KeyRevoke(Strict):
    reason: Reason | None = None


class AuthorizeBody(Strict):
    amount_usd: AmountUSD
    vendor: Short | None = None
    rail: Annotated[str, Field(min_length=1, max_length=40)] | None = None  # as the hold's column
    tool: Short | None = None
    model: Short | None = None
    endpoint: Annotated[str, Field(max_length=500)] | None = None
    task_id: Short | None = None
    user_id: Short | None = None
    kind: Literal["llm_call", "embedding", "tool_call", "payment", "transfer"] | None = None
    metadata: Metadata = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Field(ge=1, le=86_400)] | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class UsageBody(Strict):
    """Token usage of an LLM call; cached tokens are counted inside ``input_tokens``."""

    provider: Short | None = None
    model: Short | None = None
    input_tokens: Annotated[int, Field(ge=0, le=10**10)] = 0
    output_tokens: Annotated[int, Field(ge=0, le=10**10)] = 0
    cache_read_tokens: Annotated[int, Field(ge=0, le=10**10)] = 0
    cache_write_tokens: Annotated[int, Field(ge=0, le=10**10)] = 0


class SettleBody(Strict):
    amount_usd: AmountUSD | None = None
    usage: UsageBody | None = None
    status: Literal["settled", "failed"] = "settled"
    attempt: Annotated[int, Field(ge=1, le=1000)] = 1
    description: Annotated[str, Field(max_length=2000)] | None = None
    metadata: Metadata = Field(default_factory=dict)
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class TransactionBody(Strict):
    """A spend that already happened; ``occurred_at`` places it in its windows."""

    amount_usd: AmountUSD | None = None
    usage: UsageBody | None = None
    rail: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")] = "llm_api"
    vendor: Short | None = None
    tool: Short | None = None
    endpoint: Annotated[str, Field(max_length=500)] | None = None
    model: Short | None = None
    kind: Literal["llm_call", "embedding", "tool_call", "payment", "transfer"] = "llm_call"
    status: Literal["settled", "failed", "voided", "refunded"] = "settled"
    attempt: Annotated[int, Field(ge=1, le=1000)] = 1
    task_id: Short | None = None
    user_id: Short | None = None
    counterparty_agent_id: Slug | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    metadata: Metadata = Field(default_factory=dict)
    external_id: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    occurred_at: Moment | None = None
    original_amount: Annotated[str, Field(max_length=60)] | None = None
    original_currency: Annotated[str, Field(pattern=r"^[A-Z]{3,5}$")] | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail


class AuthorizeResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    status: Literal["approved"]
    agent_id: str
    amount_usd: str
    expires_at: str
    headroom: dict[str, str]


class AgentCreated(BaseModel):
    model_config = ConfigDict(extra="allow")
    agent: dict[str, Any]
    api_key: str = Field(description="Shown once; store it now.")
