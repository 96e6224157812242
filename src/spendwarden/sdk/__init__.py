"""The Python SDK: ``Client``/``AsyncClient`` (HTTP or embedded), ``spend`` holds, ``task``
scopes, and ``wrap`` for OpenAI and Anthropic clients."""

from __future__ import annotations

from spendwarden.errors import (
    AgentHalted,
    AgentRevoked,
    Forbidden,
    IdempotencyConflict,
    KeyRevoked,
    NotFound,
    PolicyDenied,
    PricingUnavailable,
    RateLimited,
    SpendwardenError,
    Unauthenticated,
    ValidationFailed,
)
from spendwarden.sdk.client import AsyncClient, Client
from spendwarden.sdk.embedded import create_agent as create_embedded_agent
from spendwarden.sdk.errors import CapExceeded, ServerUnavailable, TransportError
from spendwarden.sdk.hold import AsyncSpendHold, SpendHold
from spendwarden.sdk.models import Authorization, Transaction
from spendwarden.sdk.tasks import current_task_id
from spendwarden.sdk.wrapping import wrap

__all__ = [
    "AgentHalted",
    "AgentRevoked",
    "AsyncClient",
    "AsyncSpendHold",
    "Authorization",
    "CapExceeded",
    "Client",
    "Forbidden",
    "IdempotencyConflict",
    "KeyRevoked",
    "NotFound",
    "PolicyDenied",
    "PricingUnavailable",
    "RateLimited",
    "ServerUnavailable",
    "SpendHold",
    "SpendwardenError",
    "Transaction",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
    "create_embedded_agent",
    "current_task_id",
    "wrap",
]
