"""Embedded mode: the ledger in this process on a SQLite file, behind the SDK's interface.

The request bodies are validated with the API's own schemas and turned into ledger
calls by the API's own converters, and every exception is mapped through the same
table as an HTTP error body. So an agent can move between embedded and server mode
by changing how it builds its client, nothing else.

Authentication: with ``key`` the key is checked on every call (``ledger.authenticate``),
so a revoked key is refused on the very next call, as on a server. With only
``agent_id`` the process is trusted as that agent (it holds the database file anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from spendwarden.errors import Forbidden, SpendwardenError, Unauthenticated, ValidationFailed
from spendwarden.sdk.errors import from_domain
from spendwarden.sdk.ops import Operation

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

Handler = Callable[["EmbeddedTransport", str, Operation], dict[str, Any]]


def sqlite_url(path: str) -> str:
    return path if "://" in path else f"sqlite:///{path}"


def open_runtime(path: str = "./spendwarden.db") -> Runtime:
    """Build (and migrate) a runtime on a SQLite file or any database URL."""
    from spendwarden.config import Settings
    from spendwarden.runtime import build_runtime

    return build_runtime(Settings(database_url=sqlite_url(path)))


def create_agent(
    target: str | Runtime = "./spendwarden.db",
    agent_id: str = "my-agent",
    *,
    tier: str = "experimental",
    caps: dict[str, object] | None = None,
    name: str | None = None,
    owner: str = "",
) -> str:
    """Quickstart helper: create an agent in a local database and return its API key (shown once)."""
    from spendwarden.ledger.agents import AgentSpec
    from spendwarden.money import parse_amount

    runtime = open_runtime(target) if isinstance(target, str) else target
    try:
        parsed = {k: None if v is None else parse_amount(v, field=k) for k, v in (caps or {}).items()}
        spec = AgentSpec(id=agent_id, name=name, owner=owner, tier=tier, caps=parsed)
        _, key = runtime.ledger.create_agent(spec, actor="sdk")
    except SpendwardenError as exc:
        raise from_domain(exc) from exc
    finally:
        if isinstance(target, str):
            runtime.close()
    return key


def ensure_agent(runtime: Runtime, agent_id: str, *, tier: str, caps: dict[str, object] | None) -> None:
    """Create the agent unless it exists (quickstarts that run twice); its key is not needed
    because the process acts as the agent directly."""
    from spendwarden.errors import AgentNotFound

    try:
        runtime.ledger.view(agent_id)
    except AgentNotFound:
        create_agent(runtime, agent_id, tier=tier, caps=caps)


def validation_failed(exc: ValidationError) -> ValidationFailed:
    """The API's 422 for a body that fails its schema, built from the same pydantic errors."""
    errors = [
        {"loc": ["body", *(str(p) for p in e["loc"])], "msg": str(e["msg"]), "type": str(e["type"])}
        for e in exc.errors()
    ]
    from spendwarden.api.errors import validation_message

    message = validation_message(errors) if errors else "The request is not valid."
    return ValidationFailed(message, errors=errors[:20])


class EmbeddedTransport:
    """Runs operations against an in-process ``Runtime``."""

    def __init__(
        self, runtime: Runtime, *, key: str | None = None, agent_id: str | None = None, owns: bool = False
    ) -> None:
        if not key and not agent_id:
            raise Unauthenticated("Embedded mode needs an API key or an agent_id.")
        self.runtime = runtime
        self.key = key
        self.agent_id = agent_id
        self.owns = owns

    def calling_agent(self) -> str:
        if not self.key:
            assert self.agent_id is not None
            return self.agent_id
        principal = self.runtime.ledger.authenticate(self.key)
        if principal.kind != "agent" or principal.agent_id is None:
            raise Forbidden("This endpoint needs an agent API key.")
        if self.agent_id and principal.agent_id != self.agent_id:
            raise Forbidden("This key belongs to another agent.", agent_id=principal.agent_id)
        return principal.agent_id

    def send(self, op: Operation) -> dict[str, Any]:
        try:
            return HANDLERS[op.name](self, self.calling_agent(), op)
        except ValidationError as exc:
            raise validation_failed(exc) from None
        except SpendwardenError as exc:
            raise from_domain(exc) from exc

    def close(self) -> None:
        if self.owns:
            self.runtime.close()


class AsyncEmbeddedTransport:
    """The embedded transport for ``AsyncClient``. Authorizations are decided on the
    caller's event loop, as the server's fast route decides them (``ledger.on_loop``): no
    thread, and on PostgreSQL in one call and one commit with the authorizations other
    tasks await at the same time. Everything else, and what that path does not decide (an
    idempotency key, a halted agent, a policy refusal), runs in a worker thread.

    With a key, the key's agent is looked up once; after that the key is checked inside
    each authorization, so a revoked key is still refused on the very next call."""

    def __init__(self, inner: EmbeddedTransport) -> None:
        from spendwarden.ledger.keys import hash_secret
        from spendwarden.ledger.on_loop import LoopAuthorizer

        self.inner = inner
        self._authorizer = LoopAuthorizer(inner.runtime.ledger)
        self._key_hash = hash_secret(inner.key) if inner.key else None
        self._agent_of_key: str | None = None  # the key's agent, once looked up

    async def send(self, op: Operation) -> dict[str, Any]:
        if op.name == "authorize" and op.idempotency_key is None and self._authorizer.on_its_loop():
            try:
                answer = await self._authorize_on_loop(op)
            except ValidationError as exc:
                raise validation_failed(exc) from None
            except SpendwardenError as exc:
                raise from_domain(exc) from exc
            if answer is not None:
                return answer
        return await asyncio.to_thread(self.inner.send, op)

    async def _authorize_on_loop(self, op: Operation) -> dict[str, Any] | None:
        """The answer, a raised domain error, or None: the thread's path answers."""
        from spendwarden.api.convert import authorize_request
        from spendwarden.api.schemas import AuthorizeBody
        from spendwarden.ledger.approval import KeyRefused

        body = AuthorizeBody.model_validate(op.body)
        if body.idempotency_key is not None:
            return None
        if self._key_hash is None:
            assert self.inner.agent_id is not None
            agent_id = self.inner.agent_id
        else:
            if self._agent_of_key is None:  # raises what a bad key earns
                self._agent_of_key = await asyncio.to_thread(self.inner.calling_agent)
            agent_id = self._agent_of_key
        try:
            return await self._authorizer.decide(agent_id, authorize_request(body), self._key_hash)
        except KeyRefused:  # revoked since: the thread's path looks the key up and refuses it
            self._agent_of_key = None
            return None

    async def aclose(self) -> None:
        await self._authorizer.aclose()
        self.inner.close()


def _authorize(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    from spendwarden.api.convert import authorize_request
    from spendwarden.api.schemas import AuthorizeBody

    body = AuthorizeBody.model_validate(op.body)
    return t.runtime.ledger.authorize(
        agent_id, authorize_request(body), op.idempotency_key or body.idempotency_key
    )


def _settle(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    from spendwarden.api.convert import settle_event
    from spendwarden.api.schemas import SettleBody

    body = SettleBody.model_validate(op.body)
    event, provider = settle_event(agent_id, body)
    assert op.target is not None
    key = op.idempotency_key or body.idempotency_key
    return t.runtime.ledger.settle(agent_id, op.target, event, key, provider)


def _void(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    assert op.target is not None
    return t.runtime.ledger.void(agent_id, op.target)


def _record(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    from spendwarden.api.convert import transaction_event
    from spendwarden.api.schemas import TransactionBody

    body = TransactionBody.model_validate(op.body)
    ledger = t.runtime.ledger
    recorded = ledger.record(transaction_event(ledger.core, agent_id, body))
    return {"transaction": recorded.transaction, "duplicate": recorded.duplicate}


def _me(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    return t.runtime.ledger.view(agent_id)


def _task_event(t: EmbeddedTransport, agent_id: str, op: Operation) -> dict[str, Any]:
    """The same conversion as ``POST /v1/tasks/events``."""
    from spendwarden.api.routes.tasks import TaskEventBody
    from spendwarden.tasks import TaskEvent, record_task_event

    body = TaskEventBody.model_validate(op.body)
    scope = body.scope.model_dump(exclude_none=True) if body.scope else None
    event = TaskEvent(
        agent_id=agent_id,
        task_id=body.task_id,
        type=body.type,
        occurred_at=body.occurred_at,
        scope=scope or None,
        note=body.note or (f"error: {body.error}" if body.error else None),
    )
    return record_task_event(t.runtime.ledger.core, event)


HANDLERS: dict[str, Handler] = {
    "authorize": _authorize,
    "settle": _settle,
    "void": _void,
    "record": _record,
    "me": _me,
    "task_event": _task_event,
}
