"""``Client`` (sync) and ``AsyncClient``: an agent's side of Spendwarden.

Both take the same arguments and raise the same exceptions over HTTP and in embedded
mode (``Client.embedded(...)``): only the transport differs. Amounts go in as ``str``,
``Decimal`` or ``int`` (a float only when it has at most six decimals) and come back as
``Decimal``. Calls made inside ``client.task(...)`` default to its ``task_id``.
"""

from __future__ import annotations

import os
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spendwarden.sdk import ops
from spendwarden.sdk.embedded import AsyncEmbeddedTransport, EmbeddedTransport, ensure_agent, open_runtime
from spendwarden.sdk.hold import AsyncSpendHold, SpendHold
from spendwarden.sdk.models import Authorization, Transaction
from spendwarden.sdk.tasks import TaskScope, task_or_current
from spendwarden.sdk.transport import AsyncHttpTransport, HttpTransport, RetryPolicy
from spendwarden.sdk.usage import usage_payload

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

DEFAULT_URL = "http://127.0.0.1:8000"


def _auth_fields(**fields: Any) -> dict[str, Any]:
    fields["task_id"] = task_or_current(fields.get("task_id"))
    return fields


def _usage_body(usage: object | None, model: str | None, provider: str | None) -> dict[str, Any] | None:
    return None if usage is None else usage_payload(usage, model=model, provider=provider)


def _record_op(amount: object | None, usage: object | None, fields: dict[str, Any]) -> ops.Operation:
    provider = fields.pop("provider", None)
    fields["task_id"] = task_or_current(fields.get("task_id"))
    return ops.record(
        amount, _usage_body(usage, fields.get("model"), provider or fields.get("vendor")), fields
    )


def _settle_op(
    authorization_id: str, amount: object | None, usage: object | None, fields: dict[str, Any]
) -> ops.Operation:
    model, provider = fields.pop("model", None), fields.pop("provider", None)
    key = fields.pop("idempotency_key", None)
    return ops.settle(authorization_id, amount, _usage_body(usage, model, provider), fields, key)


def _embedded_transport(
    path: str, agent_id: str | None, key: str | None, runtime: Runtime | None, create: dict[str, Any] | None
) -> EmbeddedTransport:
    owns = runtime is None
    runtime = runtime or open_runtime(path)
    if create is not None and agent_id and not key:
        ensure_agent(runtime, agent_id, tier=create.get("tier", "experimental"), caps=create.get("caps"))
    return EmbeddedTransport(runtime, key=key, agent_id=agent_id, owns=owns)


class Client:
    """Synchronous client. ``key`` defaults to ``SPENDWARDEN_API_KEY``, ``url`` to ``SPENDWARDEN_URL``."""

    def __init__(
        self,
        key: str | None = None,
        url: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        transport: Any = None,
    ) -> None:
        if transport is None:
            key = key or os.environ.get("SPENDWARDEN_API_KEY")
            url = url or os.environ.get("SPENDWARDEN_URL") or DEFAULT_URL
            transport = HttpTransport(url, key, timeout, RetryPolicy(retries=retries))
        self._transport = transport

    @classmethod
    def embedded(
        cls,
        path: str = "./spendwarden.db",
        *,
        agent_id: str | None = None,
        key: str | None = None,
        runtime: Runtime | None = None,
        create: dict[str, Any] | None = None,
    ) -> Client:
        """The ledger in this process on a SQLite file (or a given ``runtime``); no server.

        With ``key`` the key is checked on every call (revocation is seen at once); with only
        ``agent_id`` the process acts as that agent, and ``create={"tier": ..., "caps": {...}}``
        creates it when missing (quickstarts).
        """
        return cls(transport=_embedded_transport(path, agent_id, key, runtime, create))

    def authorize(
        self,
        amount: object,
        *,
        vendor: str | None = None,
        rail: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        task_id: str | None = None,
        user_id: str | None = None,
        endpoint: str | None = None,
        kind: str | None = None,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> Authorization:
        """Hold ``amount`` against every cap, or raise ``CapExceeded``/``PolicyDenied``/``AgentHalted``."""
        fields = _auth_fields(
            vendor=vendor,
            rail=rail,
            tool=tool,
            model=model,
            task_id=task_id,
            user_id=user_id,
            endpoint=endpoint,
            kind=kind,
            metadata=metadata,
            ttl_seconds=ttl_seconds,
        )
        return Authorization.from_json(self._transport.send(ops.authorize(amount, fields, idempotency_key)))

    def settle(
        self,
        authorization_id: str,
        amount: object | None = None,
        *,
        usage: object | None = None,
        model: str | None = None,
        provider: str | None = None,
        status: str | None = None,
        attempt: int | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Transaction:
        """Record the actual amount, or ``usage`` (a real response, its ``.usage``, or a dict) to price."""
        fields = {
            "model": model,
            "provider": provider,
            "status": status,
            "attempt": attempt,
            "description": description,
            "metadata": metadata,
            "idempotency_key": idempotency_key,
        }
        return Transaction.from_settle(
            self._transport.send(_settle_op(authorization_id, amount, usage, fields))
        )

    def void(self, authorization_id: str) -> dict[str, Any]:
        """Release a hold without spending."""
        result: dict[str, Any] = self._transport.send(ops.void(authorization_id))
        return result

    def record(
        self,
        amount: object | None = None,
        *,
        usage: object | None = None,
        provider: str | None = None,
        vendor: str | None = None,
        rail: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        endpoint: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        attempt: int | None = None,
        task_id: str | None = None,
        user_id: str | None = None,
        counterparty_agent_id: str | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        external_id: str | None = None,
        occurred_at: datetime | None = None,
        original_amount: str | None = None,
        original_currency: str | None = None,
    ) -> Transaction:
        """Record a spend that already happened; ``external_id`` (generated if absent) dedupes it."""
        fields = dict(locals())
        for name in ("self", "amount", "usage"):
            fields.pop(name)
        return Transaction.from_record(self._transport.send(_record_op(amount, usage, fields)))

    def task_event(
        self,
        type: str,
        task_id: str,
        *,
        scope: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """Report ``task.started`` / ``progress`` / ``completed`` / ``failed`` (the prefix is optional)."""
        result: dict[str, Any] = self._transport.send(
            ops.task_event(type, task_id, scope, occurred_at, error)
        )
        return result

    def me(self) -> dict[str, Any]:
        """This agent's status, spend per cap window and headroom."""
        result: dict[str, Any] = self._transport.send(ops.me())
        return result

    def spend(self, estimate: object, **fields: Any) -> SpendHold:
        """``with client.spend(estimate="0.02", vendor=…) as hold: … hold.settle(usage=…)``."""
        return SpendHold(self, estimate, fields)

    def task(
        self, name: str, *, task_id: str | None = None, scope: dict[str, Any] | None = None
    ) -> TaskScope:
        """A unit of work reporting task events; spends inside default to its id (also a decorator)."""
        return TaskScope(self, name, task_id=task_id, scope=scope)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient:
    """The same interface with ``await`` (``httpx.AsyncClient``; embedded calls run in a thread)."""

    def __init__(
        self,
        key: str | None = None,
        url: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        transport: Any = None,
    ) -> None:
        if transport is None:
            key = key or os.environ.get("SPENDWARDEN_API_KEY")
            url = url or os.environ.get("SPENDWARDEN_URL") or DEFAULT_URL
            transport = AsyncHttpTransport(url, key, timeout, RetryPolicy(retries=retries))
        self._transport = transport

    @classmethod
    def embedded(
        cls,
        path: str = "./spendwarden.db",
        *,
        agent_id: str | None = None,
        key: str | None = None,
        runtime: Runtime | None = None,
        create: dict[str, Any] | None = None,
    ) -> AsyncClient:
        transport = _embedded_transport(path, agent_id, key, runtime, create)
        return cls(transport=AsyncEmbeddedTransport(transport))

    async def authorize(
        self,
        amount: object,
        *,
        vendor: str | None = None,
        rail: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        task_id: str | None = None,
        user_id: str | None = None,
        endpoint: str | None = None,
        kind: str | None = None,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> Authorization:
        fields = _auth_fields(
            vendor=vendor,
            rail=rail,
            tool=tool,
            model=model,
            task_id=task_id,
            user_id=user_id,
            endpoint=endpoint,
            kind=kind,
            metadata=metadata,
            ttl_seconds=ttl_seconds,
        )
        body = await self._transport.send(ops.authorize(amount, fields, idempotency_key))
        return Authorization.from_json(body)

    async def settle(
        self,
        authorization_id: str,
        amount: object | None = None,
        *,
        usage: object | None = None,
        model: str | None = None,
        provider: str | None = None,
        status: str | None = None,
        attempt: int | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Transaction:
        fields = {
            "model": model,
            "provider": provider,
            "status": status,
            "attempt": attempt,
            "description": description,
            "metadata": metadata,
            "idempotency_key": idempotency_key,
        }
        body = await self._transport.send(_settle_op(authorization_id, amount, usage, fields))
        return Transaction.from_settle(body)

    async def void(self, authorization_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._transport.send(ops.void(authorization_id))
        return result

    async def record(
        self,
        amount: object | None = None,
        *,
        usage: object | None = None,
        provider: str | None = None,
        vendor: str | None = None,
        rail: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        endpoint: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        attempt: int | None = None,
        task_id: str | None = None,
        user_id: str | None = None,
        counterparty_agent_id: str | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        external_id: str | None = None,
        occurred_at: datetime | None = None,
        original_amount: str | None = None,
        original_currency: str | None = None,
    ) -> Transaction:
        fields = dict(locals())
        for name in ("self", "amount", "usage"):
            fields.pop(name)
        return Transaction.from_record(await self._transport.send(_record_op(amount, usage, fields)))

    async def task_event(
        self,
        type: str,
        task_id: str,
        *,
        scope: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        op = ops.task_event(type, task_id, scope, occurred_at, error)
        result: dict[str, Any] = await self._transport.send(op)
        return result

    async def me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._transport.send(ops.me())
        return result

    def spend(self, estimate: object, **fields: Any) -> AsyncSpendHold:
        """``async with client.spend(estimate=…) as hold: … await hold.settle(usage=…)``."""
        return AsyncSpendHold(self, estimate, fields)

    def task(
        self, name: str, *, task_id: str | None = None, scope: dict[str, Any] | None = None
    ) -> TaskScope:
        return TaskScope(self, name, task_id=task_id, scope=scope)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
