"""Request bodies to domain values (the only place the API builds ``SpendEvent``s)."""

from __future__ import annotations

from typing import Any

from spendwarden.api.schemas import AuthorizeBody, SettleBody, TransactionBody, UsageBody
from spendwarden.errors import ValidationFailed
from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.pricing import priced
from spendwarden.ledger.types import AuthorizeRequest


def authorize_request(body: AuthorizeBody) -> AuthorizeRequest:
    return AuthorizeRequest(
        amount=body.amount_usd,
        vendor=body.vendor,
        rail=body.rail,
        tool=body.tool,
        model=body.model,
        endpoint=body.endpoint,
        task_id=body.task_id,
        user_id=body.user_id,
        kind=body.kind,
        metadata=body.metadata,
        ttl_seconds=body.ttl_seconds,
    )


def token_usage(usage: UsageBody) -> TokenUsage:
    return TokenUsage(
        input=usage.input_tokens,
        output=usage.output_tokens,
        cache_read=usage.cache_read_tokens,
        cache_write=usage.cache_write_tokens,
    )


def _amount_or_usage(
    core: LedgerCore, event: SpendEvent, amount: int | None, usage: UsageBody | None
) -> SpendEvent:
    if amount is not None:
        return event
    if usage is None:
        raise ValidationFailed("Give amount_usd or usage.", field="amount_usd")
    return priced(core, event, usage.provider, event.occurred_at or core.clock.now())


def settle_event(agent_id: str, body: SettleBody) -> tuple[SpendEvent, str | None]:
    """The settle as an event, plus the provider when it must be priced from usage
    (after the hold's model and vendor are known)."""
    usage = body.usage
    if body.amount_usd is None and usage is None:
        raise ValidationFailed("Give amount_usd or usage.", field="amount_usd")
    event = SpendEvent(
        agent_id=agent_id,
        amount=body.amount_usd or 0,
        model=usage.model if usage else None,
        usage=token_usage(usage) if usage else None,
        status=body.status,
        attempt=body.attempt,
        description=body.description,
        metadata=body.metadata,
    )
    needs_pricing = body.amount_usd is None
    return event, (usage.provider or "" if usage and needs_pricing else None)


def transaction_event(core: LedgerCore, agent_id: str, body: TransactionBody) -> SpendEvent:
    usage = body.usage
    fields: dict[str, Any] = body.model_dump(exclude={"amount_usd", "usage"})
    event = SpendEvent(
        agent_id=agent_id,
        amount=body.amount_usd or 0,
        usage=token_usage(usage) if usage else None,
        source="api",
        **{**fields, "model": body.model or (usage.model if usage else None)},
    )
    return _amount_or_usage(core, event, body.amount_usd, usage)
