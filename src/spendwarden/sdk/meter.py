"""One wrapped LLM call's money: authorize the estimate, then settle exactly once.

How a call ends decides what is settled:

* usage seen (a response, or a stream's final usage)  -> the usage, priced by the server;
* the provider refused the request (HTTP 4xx but 408)  -> a ``failed`` row of 0 (nothing was
  billed, and the failure still counts for ``failure_rate``);
* anything else (timeout, disconnect, 5xx, a stream closed or abandoned before its usage,
  a response without usage) -> the estimate, marked
  ``{"settled_from": "estimate", "reason": …}`` — never a silent zero.

Settling never raises into the caller's code: the LLM answer has been paid for and is
returned; a settle that fails is logged and kept on ``meter.error`` (the hold then
expires on the server).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any

from spendwarden.errors import SpendwardenError
from spendwarden.sdk.estimate import Estimate
from spendwarden.sdk.hold import PRICE_UNKNOWN, estimate_metadata
from spendwarden.sdk.models import Authorization, Transaction
from spendwarden.sdk.usage import usage_payload

log = logging.getLogger("spendwarden.sdk")
WRAP_SOURCE = "spendwarden.wrap"


@dataclass(frozen=True)
class CallPlan:
    """What is known before the call: who serves it, the model, the estimate, the attribution."""

    provider: str
    endpoint: str
    model: str | None
    estimate: Estimate
    task_id: str | None
    tool: str | None

    def authorize_args(self) -> dict[str, Any]:
        return {
            "vendor": self.provider,
            "rail": "llm_api",
            "tool": self.tool,
            "model": self.model,
            "task_id": self.task_id,
            "endpoint": self.endpoint,
            "kind": "llm_call",
            "metadata": {"via": WRAP_SOURCE, "estimate": self.estimate.basis()},
        }


def provider_rejected(exc: BaseException) -> int | None:
    """The HTTP status when the provider answered the request with a refusal (not billed)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status != 408:
        return status
    return None


def settlement_for_error(plan: CallPlan, exc: BaseException, reason: str) -> dict[str, Any]:
    status = provider_rejected(exc)
    error = type(exc).__name__
    if status is not None:
        meta = {"settled_from": "provider_error", "status_code": status, "error": error}
        return {"amount": "0", "status": "failed", "metadata": meta}
    return {"amount": plan.estimate.amount, "metadata": estimate_metadata(reason, {"error": error})}


def settlement_for_estimate(plan: CallPlan, reason: str) -> dict[str, Any]:
    return {"amount": plan.estimate.amount, "metadata": estimate_metadata(reason)}


def settlement_for_usage(plan: CallPlan, usage: object) -> dict[str, Any]:
    return {"usage": usage_payload(usage, model=plan.model, provider=plan.provider)}


def price_fallback(plan: CallPlan, args: dict[str, Any]) -> dict[str, Any]:
    """The server cannot price this model: settle the estimate, keep the token counts."""
    return {
        "amount": plan.estimate.amount,
        "metadata": estimate_metadata(PRICE_UNKNOWN, {"usage": args["usage"]}),
    }


class Meter:
    """Sync: ``open()`` before the call, then one of the ``finish_*`` (later ones are no-ops)."""

    def __init__(self, client: Any, plan: CallPlan) -> None:
        self.client = client
        self.plan = plan
        self.authorization: Authorization | None = None
        self.transaction: Transaction | None = None
        self.error: BaseException | None = None
        self._done = False
        self._lock = threading.Lock()

    def open(self) -> None:
        self.authorization = self.client.authorize(self.plan.estimate.amount, **self.plan.authorize_args())

    def _claim(self) -> bool:
        with self._lock:
            if self._done or self.authorization is None:
                return False
            self._done = True
            return True

    def finish(self, args: dict[str, Any]) -> None:
        if not self._claim():
            return
        assert self.authorization is not None
        try:
            try:
                self.transaction = self.client.settle(self.authorization.id, **args)
            except SpendwardenError as exc:
                if exc.code != PRICE_UNKNOWN or "usage" not in args:
                    raise
                self.transaction = self.client.settle(
                    self.authorization.id, **price_fallback(self.plan, args)
                )
        except Exception as exc:
            self.error = exc
            log.exception("spendwarden: could not settle %s", self.authorization.id)

    def finish_usage(self, usage: object) -> None:
        try:
            args = settlement_for_usage(self.plan, usage)
        except SpendwardenError:
            log.warning("spendwarden: unreadable usage; settling the estimate", exc_info=True)
            args = settlement_for_estimate(self.plan, "usage_unreadable")
        self.finish(args)

    def finish_estimate(self, reason: str) -> None:
        self.finish(settlement_for_estimate(self.plan, reason))

    def finish_error(self, exc: BaseException, reason: str = "call_raised") -> None:
        self.finish(settlement_for_error(self.plan, exc, reason))


_pending: set[asyncio.Task[None]] = set()


class AsyncMeter(Meter):
    """Async: the Spendwarden client may be an ``AsyncClient`` or a sync one (run in a thread)."""

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.client, name)
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def aopen(self) -> None:
        self.authorization = await self._call(
            "authorize", self.plan.estimate.amount, **self.plan.authorize_args()
        )

    async def afinish(self, args: dict[str, Any]) -> None:
        if not self._claim():
            return
        assert self.authorization is not None
        try:
            try:
                self.transaction = await self._call("settle", self.authorization.id, **args)
            except SpendwardenError as exc:
                if exc.code != PRICE_UNKNOWN or "usage" not in args:
                    raise
                fallback = price_fallback(self.plan, args)
                self.transaction = await self._call("settle", self.authorization.id, **fallback)
        except Exception as exc:
            self.error = exc
            log.exception("spendwarden: could not settle %s", self.authorization.id)

    async def afinish_usage(self, usage: object) -> None:
        try:
            args = settlement_for_usage(self.plan, usage)
        except SpendwardenError:
            log.warning("spendwarden: unreadable usage; settling the estimate", exc_info=True)
            args = settlement_for_estimate(self.plan, "usage_unreadable")
        await self.afinish(args)

    async def afinish_estimate(self, reason: str) -> None:
        await self.afinish(settlement_for_estimate(self.plan, reason))

    async def afinish_error(self, exc: BaseException, reason: str = "call_raised") -> None:
        await self.afinish(settlement_for_error(self.plan, exc, reason))

    def finish_later(self, reason: str) -> None:
        """From a finalizer (no ``await`` possible): schedule the settle on the running loop, or run
        it in a fresh loop when none runs (e.g. collected after the loop ended)."""
        if self._done:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task = loop.create_task(self.afinish_estimate(reason))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
            return
        try:
            asyncio.run(self.afinish_estimate(reason))
        except Exception:
            log.exception("spendwarden: could not settle an abandoned stream")
