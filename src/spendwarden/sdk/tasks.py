"""``client.task("name")``: a unit of work that reports itself and owns the spends inside it.

It emits ``task.started`` on entry and ``task.completed`` or ``task.failed`` (with the
exception type) on exit, and sets the current task in a ``ContextVar`` so every
authorize, record, ``spend()`` and wrapped LLM call inside defaults to its ``task_id``
— across ``await`` and in tasks spawned from it — with no extra argument. That is what
cost per task and the silence rule need, for free.

Reporting the end of a task never hides the task's own exception: if that report
fails, it is logged and the original exception propagates.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, cast

from spendwarden.errors import SpendwardenError
from spendwarden.ids import new_id

log = logging.getLogger("spendwarden.sdk")
F = TypeVar("F", bound=Callable[..., Any])

_current_task: ContextVar[str | None] = ContextVar("spendwarden_task_id", default=None)


def current_task_id() -> str | None:
    """The task the code runs in (innermost ``client.task``), if any."""
    return _current_task.get()


def task_or_current(task_id: str | None) -> str | None:
    return task_id if task_id is not None else _current_task.get()


def new_task_id(name: str) -> str:
    return new_id(f"{name[:100]}-")


def already_reported(exc: BaseException, kind: str) -> bool:
    """A retried final event whose first attempt did land: the task is already in that state."""
    return (
        isinstance(exc, SpendwardenError)
        and exc.code == "invalid_state"
        and exc.details.get("status") == kind.removeprefix("task.")
    )


class TaskScope:
    """Context manager (``with`` / ``async with``) and decorator (sync and async functions).

    As a decorator each call is its own task with a fresh id; as a context manager the
    id is ``task_id`` if given, else generated, and readable as ``scope.task_id``.
    """

    def __init__(
        self, client: Any, name: str, *, task_id: str | None = None, scope: dict[str, Any] | None = None
    ) -> None:
        self.client = client
        self.name = name
        self.scope = scope
        self._fixed_id = task_id
        self.task_id: str | None = task_id
        self._token: Token[str | None] | None = None

    def _fresh(self) -> TaskScope:
        return TaskScope(self.client, self.name, task_id=self._fixed_id, scope=self.scope)

    def _start(self) -> None:
        self.task_id = self._fixed_id or new_task_id(self.name)
        self._token = _current_task.set(self.task_id)

    def _end(self) -> None:
        if self._token is not None:
            _current_task.reset(self._token)
            self._token = None

    def _final(self, exc: BaseException | None) -> tuple[str, dict[str, Any]]:
        if exc is None:
            return "task.completed", {}
        return "task.failed", {"error": type(exc).__name__}

    # sync
    def __enter__(self) -> TaskScope:
        self._start()
        try:
            self.client.task_event("task.started", cast(str, self.task_id), scope=self.scope)
        except BaseException:
            self._end()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end()
        kind, extra = self._final(exc)
        try:
            self.client.task_event(kind, cast(str, self.task_id), **extra)
        except Exception as failure:
            if exc is None and not already_reported(failure, kind):
                raise
            log.warning("could not report %s for task %s", kind, self.task_id, exc_info=True)

    # async
    async def _emit(self, kind: str, **extra: Any) -> None:
        result = self.client.task_event(kind, cast(str, self.task_id), **extra)
        if inspect.isawaitable(result):
            await result

    async def __aenter__(self) -> TaskScope:
        self._start()
        try:
            await self._emit("task.started", scope=self.scope)
        except BaseException:
            self._end()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end()
        kind, extra = self._final(exc)
        try:
            await self._emit(kind, **extra)
        except Exception as failure:
            if exc is None and not already_reported(failure, kind):
                raise
            log.warning("could not report %s for task %s", kind, self.task_id, exc_info=True)

    # decorator
    def __call__(self, fn: F) -> F:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await fn(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return cast(F, run)
