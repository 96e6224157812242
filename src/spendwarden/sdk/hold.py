"""``client.spend(estimate=…)``: authorize on entry, settle or void on the way out.

    with client.spend(estimate="0.02", vendor="anthropic", tool="summarize") as hold:
        response = anthropic_client.messages.create(...)
        hold.settle(usage=response.usage)

* An exception inside the block voids the hold and propagates: the call failed before
  it could cost anything (use the wrappers in ``spendwarden.wrap`` when a failure can
  still be billed, e.g. an interrupted stream).
* Leaving the block without settling or voiding **settles the estimate**, with
  ``metadata={"settled_from": "estimate", "reason": "not_settled"}``: an agent that forgot
  to settle still spent money, and a spend must never be recorded as zero by accident.
* If ``hold.settle(...)`` itself fails (server down, bad usage), the block exits by
  settling the estimate too (``reason="settle_failed"``), never by voiding.
* When the server cannot price the usage (unknown model), the estimate is settled with
  the token counts kept in the metadata (``reason="price_unknown"``).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from spendwarden.errors import InvalidState, SpendwardenError
from spendwarden.sdk.models import Authorization, Transaction, amount_text
from spendwarden.sdk.usage import usage_payload

log = logging.getLogger("spendwarden.sdk")
PRICE_UNKNOWN = "price_unknown"


def estimate_metadata(reason: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What marks a row settled from the estimate rather than from what was measured."""
    return {**(extra or {}), "settled_from": "estimate", "reason": reason}


class _HoldState:
    def __init__(self, client: Any, estimate: object, fields: dict[str, Any]) -> None:
        self.client = client
        self.estimate = amount_text(estimate, field="estimate")
        self.fields = fields
        self.authorization: Authorization | None = None
        self.transaction: Transaction | None = None
        self.voided = False
        self.settle_error: BaseException | None = None

    @property
    def id(self) -> str:
        if self.authorization is None:
            raise InvalidState("The hold is not authorized yet; use it inside its `with` block.")
        return self.authorization.id

    @property
    def closed(self) -> bool:
        return self.transaction is not None or self.voided

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidState("This hold is already settled or voided.", authorization_id=self.id)

    def _usage(self, usage: object | None) -> dict[str, Any] | None:
        if usage is None:
            return None
        return usage_payload(usage, model=self.fields.get("model"))

    def _settle_args(
        self, amount: object | None, usage: dict[str, Any] | None, metadata: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {"amount": amount, "usage": usage, "metadata": metadata}

    def _fallback_args(self, reason: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        extra = {"usage": usage} if usage else None
        return {"amount": self.estimate, "usage": None, "metadata": estimate_metadata(reason, extra)}


class SpendHold(_HoldState):
    """The sync hold; see the module docstring for what happens on the way out."""

    def __enter__(self) -> SpendHold:
        self.authorization = self.client.authorize(self.estimate, **self.fields)
        return self

    def settle(
        self, amount: object | None = None, *, usage: object | None = None, **fields: Any
    ) -> Transaction:
        """Settle the actual amount, or the usage of a real LLM response (priced by the server)."""
        self._check_open()
        try:
            payload = self._usage(usage)
            try:
                return self._send(self._settle_args(amount, payload, fields.pop("metadata", None)), fields)
            except SpendwardenError as exc:
                if exc.code != PRICE_UNKNOWN or amount is not None:
                    raise
                return self._send(self._fallback_args(PRICE_UNKNOWN, payload), fields)
        except BaseException as exc:
            self.settle_error = exc
            raise

    def _send(self, args: dict[str, Any], fields: dict[str, Any]) -> Transaction:
        txn: Transaction = self.client.settle(
            self.id, args["amount"], usage=args["usage"], metadata=args["metadata"], **fields
        )
        self.transaction = txn
        return txn

    def void(self) -> None:
        self._check_open()
        self.client.void(self.id)
        self.voided = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.closed or self.authorization is None:
            return
        if exc is None or self.settle_error is not None:
            reason = "not_settled" if exc is None else "settle_failed"
            try:
                self._send(self._fallback_args(reason), {})
            except Exception:
                if exc is None:
                    raise
                log.exception("could not settle hold %s from its estimate", self.id)
            return
        try:
            self.void()
        except Exception:
            log.exception("could not void hold %s after %s", self.id, exc_type)


class AsyncSpendHold(_HoldState):
    """``async with client.spend(...)``: the same rules as ``SpendHold``."""

    async def __aenter__(self) -> AsyncSpendHold:
        self.authorization = await self.client.authorize(self.estimate, **self.fields)
        return self

    async def settle(
        self, amount: object | None = None, *, usage: object | None = None, **fields: Any
    ) -> Transaction:
        self._check_open()
        try:
            payload = self._usage(usage)
            try:
                return await self._send(
                    self._settle_args(amount, payload, fields.pop("metadata", None)), fields
                )
            except SpendwardenError as exc:
                if exc.code != PRICE_UNKNOWN or amount is not None:
                    raise
                return await self._send(self._fallback_args(PRICE_UNKNOWN, payload), fields)
        except BaseException as exc:
            self.settle_error = exc
            raise

    async def _send(self, args: dict[str, Any], fields: dict[str, Any]) -> Transaction:
        txn: Transaction = await self.client.settle(
            self.id, args["amount"], usage=args["usage"], metadata=args["metadata"], **fields
        )
        self.transaction = txn
        return txn

    async def void(self) -> None:
        self._check_open()
        await self.client.void(self.id)
        self.voided = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.closed or self.authorization is None:
            return
        if exc is None or self.settle_error is not None:
            reason = "not_settled" if exc is None else "settle_failed"
            try:
                await self._send(self._fallback_args(reason), {})
            except Exception:
                if exc is None:
                    raise
                log.exception("could not settle hold %s from its estimate", self.id)
            return
        try:
            await self.void()
        except Exception:
            log.exception("could not void hold %s after %s", self.id, exc_type)
