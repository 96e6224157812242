"""The API's error shape mapped back to exception classes, identically for every transport.

An HTTP error body ``{"error": {"code", "message", "details"}}`` and an exception raised
by the in-process ledger both go through ``error_from``, so ``except CapExceeded`` works
the same against a server and in embedded mode. The classes are those of
``spendwarden.errors`` (so ``except spendwarden.errors.AgentHalted`` keeps working);
the SDK only adds what a client needs on top: the cap figures as ``Decimal`` and the
errors that exist only on the client side of the wire.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from spendwarden import errors as core
from spendwarden.errors import SpendwardenError


class TransportError(SpendwardenError):
    """The request did not get an answer (connection refused, reset, timed out)."""

    code = "transport_error"
    status = 0
    default_message = "Could not reach the Spendwarden server."


class ServerUnavailable(TransportError):
    """The server kept failing (5xx, or no answer) after every retry."""

    code = "server_unavailable"
    status = 503
    default_message = "The Spendwarden server is unavailable."


class CapExceeded(core.CapExceeded):
    """A cap denies the authorization; ``cap`` names it and the figures say by how much."""

    @property
    def cap(self) -> str | None:
        value = self.details.get("cap")
        return None if value is None else str(value)

    @property
    def limit(self) -> Decimal | None:
        return _decimal(self.details.get("limit"))

    @property
    def spent(self) -> Decimal | None:
        return _decimal(self.details.get("spent"))

    @property
    def requested(self) -> Decimal | None:
        return _decimal(self.details.get("requested"))


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _all_subclasses(cls: type[SpendwardenError]) -> list[type[SpendwardenError]]:
    found: list[type[SpendwardenError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


@cache
def _by_code() -> dict[str, type[SpendwardenError]]:
    """Every error class that lives in ``spendwarden.errors`` by its code, SDK classes winning."""
    table = {c.code: c for c in _all_subclasses(SpendwardenError) if c.__module__ == core.__name__}
    table[CapExceeded.code] = CapExceeded
    return table


BY_STATUS: dict[int, type[SpendwardenError]] = {
    401: core.Unauthenticated,
    402: core.PolicyDenied,
    403: core.Forbidden,
    404: core.NotFound,
    409: core.Conflict,
    413: core.PayloadTooLarge,
    422: core.ValidationFailed,
    423: core.AgentHalted,
    429: core.RateLimited,
}


def build(cls: type[SpendwardenError], message: str, details: dict[str, Any]) -> SpendwardenError:
    """Instantiate any error class from a message and details, whatever its ``__init__`` takes."""
    exc = cls.__new__(cls)
    SpendwardenError.__init__(exc, message, **details)
    return exc


def error_from(status: int, code: str | None, message: str | None, details: Any) -> SpendwardenError:
    """The exception for an API error: by code first (stable), then by status."""
    cls = _by_code().get(code or "")
    if cls is None:
        cls = BY_STATUS.get(status, ServerUnavailable if status >= 500 else SpendwardenError)
    exc = build(cls, message or cls.default_message, details if isinstance(details, dict) else {})
    if cls.code != code and code:
        exc.details.setdefault("code", code)
    return exc


def error_from_body(status: int, body: Any) -> SpendwardenError:
    """Map an HTTP error response (JSON already parsed, or ``None`` when it was not JSON)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return error_from(status, None, f"HTTP {status} without an error body.", {"status": status})
    return error_from(status, err.get("code"), err.get("message"), err.get("details"))


def from_domain(exc: SpendwardenError) -> SpendwardenError:
    """An exception raised in process, as the client would have seen it over HTTP."""
    body = exc.to_dict()["error"]
    mapped = error_from(exc.status, body["code"], body["message"], dict(body["details"]))
    if type(mapped) is not type(exc) and isinstance(mapped, SpendwardenError):
        mapped.__cause__ = exc
    return mapped
