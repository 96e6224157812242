"""Anthropic proxies: ``messages.create`` (streaming or not) and ``messages.stream``.

``messages.stream(...)`` returns a context manager; the hold is taken when it is entered
(that is when the request is made) and settled when it exits: from the accumulated
message's usage if the stream reached its end (``stop_reason`` set), else the estimate.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from spendwarden.sdk.meter import AsyncMeter, Meter
from spendwarden.sdk.streams import MessagesWatch
from spendwarden.sdk.wrapping import Endpoint, MeteredCreate, Passthrough, WrapConfig, plan_call

MESSAGES = Endpoint("anthropic", "messages", MessagesWatch)


def finished_message(stream: Any) -> Any:
    """The accumulated message if the stream got to its end, else ``None``."""
    try:
        snapshot = stream.current_message_snapshot
    except AssertionError:
        return None
    return snapshot if getattr(snapshot, "stop_reason", None) is not None else None


def exit_reason(exc: BaseException | None) -> str:
    return "stream_closed_early" if exc is None else "stream_error"


class StreamManager:
    """Stands in for ``MessageStreamManager``."""

    def __init__(self, cfg: WrapConfig, stream: Any, kwargs: dict[str, Any]) -> None:
        self._meter = Meter(cfg.client, plan_call(cfg, MESSAGES, kwargs))
        self._manager = stream(**kwargs)
        self._stream: Any = None

    def __enter__(self) -> Any:
        self._meter.open()
        try:
            self._stream = self._manager.__enter__()
        except BaseException as exc:
            self._meter.finish_error(exc)
            raise
        return self._stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            message = finished_message(self._stream)
            if message is not None:
                self._meter.finish_usage(message)
            else:
                self._meter.finish_estimate(exit_reason(exc))
        finally:
            self._manager.__exit__(exc_type, exc, tb)


class AsyncStreamManager:
    """Stands in for ``AsyncMessageStreamManager``."""

    def __init__(self, cfg: WrapConfig, stream: Any, kwargs: dict[str, Any]) -> None:
        self._meter = AsyncMeter(cfg.client, plan_call(cfg, MESSAGES, kwargs))
        self._manager = stream(**kwargs)
        self._stream: Any = None

    async def __aenter__(self) -> Any:
        await self._meter.aopen()
        try:
            self._stream = await self._manager.__aenter__()
        except BaseException as exc:
            await self._meter.afinish_error(exc)
            raise
        return self._stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            message = finished_message(self._stream)
            if message is not None:
                await self._meter.afinish_usage(message)
            else:
                await self._meter.afinish_estimate(exit_reason(exc))
        finally:
            await self._manager.__aexit__(exc_type, exc, tb)


class Messages(MeteredCreate):
    endpoint = MESSAGES

    def stream(self, **kwargs: Any) -> Any:
        if self._cfg.is_async:
            return AsyncStreamManager(self._cfg, self._inner.stream, kwargs)
        return StreamManager(self._cfg, self._inner.stream, kwargs)


class WrappedAnthropic(Passthrough):
    """``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic`` with metered calls."""

    @property
    def messages(self) -> Messages:
        return Messages(self._inner.messages, self._cfg)

    def with_options(self, **kwargs: Any) -> WrappedAnthropic:
        return WrappedAnthropic(self._inner.with_options(**kwargs), self._cfg)

    copy = with_options
