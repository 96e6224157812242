"""Domain exceptions with stable codes.

Every failure a client can see is one subclass here. The API maps them to the error
shape ``{"error": {"code", "message", "details"}}`` in exactly one place
(``api/errors.py``); the SDK maps the shape back to the same classes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SpendwardenError(Exception):
    """Base class: a stable ``code``, an HTTP ``status`` and structured ``details``."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "Request failed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(SpendwardenError):
    code = "invalid_request"
    status = 422
    default_message = "The request is not valid."


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"

    def __init__(self, field: str, value: object, reason: str) -> None:
        shown = value if isinstance(value, (int, float, str)) and len(str(value)) < 80 else str(value)[:80]
        super().__init__(f"{field} {reason}.", field=field, value=shown)


class PayloadTooLarge(SpendwardenError):
    code = "payload_too_large"
    status = 413
    default_message = "The request body is too large."


class Unauthenticated(SpendwardenError):
    code = "unauthenticated"
    status = 401
    default_message = "A valid bearer token is required."


class KeyRevoked(Unauthenticated):
    code = "key_revoked"
    default_message = "This API key has been revoked."


class Forbidden(SpendwardenError):
    code = "forbidden"
    status = 403
    default_message = "This credential may not perform this action."


class NotFound(SpendwardenError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class AgentNotFound(NotFound):
    code = "agent_not_found"
    default_message = "No such agent."


class Conflict(SpendwardenError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = "This idempotency key was already used with a different request body."


class AgentExists(Conflict):
    code = "agent_exists"
    default_message = "An agent with this id already exists."


class InvalidState(Conflict):
    code = "invalid_state"
    default_message = "The object is not in a state that allows this action."


class CapExceeded(SpendwardenError):
    code = "cap_exceeded"
    status = 402
    default_message = "A spending cap denies this authorization."


class PolicyDenied(SpendwardenError):
    code = "policy_denied"
    status = 402
    default_message = "The agent's policy denies this spend."


class AgentHalted(SpendwardenError):
    code = "agent_halted"
    status = 423
    default_message = "The agent is halted; a person must resume it."


class AgentRevoked(Unauthenticated):
    code = "agent_revoked"
    default_message = "The agent has been revoked."


class RateLimited(SpendwardenError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests."


class SignatureInvalid(SpendwardenError):
    code = "signature_invalid"
    status = 400
    default_message = "The webhook signature is missing, forged or stale."


class PricingUnavailable(ValidationFailed):
    code = "price_unknown"
    default_message = "No price is known for this model."
