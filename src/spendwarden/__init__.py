"""Spendwarden: a self-hosted control plane for the money that AI agents spend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The SDK is imported on first use, so ``import spendwarden`` stays light (the server,
# CLI and workers import subpackages directly and never pay for it).
if TYPE_CHECKING:
    from spendwarden.sdk import (
        AgentHalted,
        AgentRevoked,
        AsyncClient,
        CapExceeded,
        Client,
        KeyRevoked,
        PolicyDenied,
        RateLimited,
        ServerUnavailable,
        SpendwardenError,
        TransportError,
        Unauthenticated,
        ValidationFailed,
        create_embedded_agent,
        current_task_id,
        wrap,
    )


__all__ = [
    "AgentHalted",
    "AgentRevoked",
    "AsyncClient",
    "CapExceeded",
    "Client",
    "KeyRevoked",
    "PolicyDenied",
    "RateLimited",
    "ServerUnavailable",
    "SpendwardenError",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
    "__version__",
    "create_embedded_agent",
    "current_task_id",
    "wrap",
]
_SDK_EXPORTS = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _SDK_EXPORTS:
        from spendwarden import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'spendwarden' has no attribute {name!r}")
