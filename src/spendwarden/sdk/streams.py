"""Streams that pay for themselves: a proxy that watches each chunk for the final usage and
settles once, however the stream ends.

* read to the end       -> the final usage (OpenAI's ``include_usage`` chunk, the Responses
  API's ``response.completed``, Anthropic's ``message_start`` + ``message_delta``);
* closed or left early  -> ``close()``, ``with`` exit, ``break`` then garbage collection, or
  the interpreter exiting: the estimate, ``reason="stream_closed_early"``/``"stream_abandoned"``;
* broken (disconnect)   -> the estimate, ``reason="stream_error"``.

The proxy iterates like the SDK's own stream (one shared iterator, so a consumer may
resume after ``break``) and passes every other attribute through.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any

from spendwarden.ingest.common import as_mapping
from spendwarden.sdk.meter import AsyncMeter, Meter


class UsageWatch:
    """Keeps what a stream said about usage; ``final()`` is ``None`` until the usage is complete."""

    def see(self, item: Any) -> None:
        raise NotImplementedError

    def final(self) -> object | None:
        raise NotImplementedError


class ChatWatch(UsageWatch):
    """OpenAI Chat Completions: the last chunk carries ``usage`` when ``include_usage`` is on."""

    def __init__(self) -> None:
        self.chunk: Any = None

    def see(self, item: Any) -> None:
        if getattr(item, "usage", None) is not None:
            self.chunk = item

    def final(self) -> object | None:
        chunk: object | None = self.chunk
        return chunk


class ResponsesWatch(UsageWatch):
    """OpenAI Responses: ``response.completed`` (or ``incomplete``/``failed``) holds the full response."""

    def __init__(self) -> None:
        self.response: Any = None

    def see(self, item: Any) -> None:
        response = getattr(item, "response", None)
        if response is not None and getattr(response, "usage", None) is not None:
            self.response = response

    def final(self) -> object | None:
        response: object | None = self.response
        return response


class MessagesWatch(UsageWatch):
    """Anthropic: ``message_start`` has the input (and cache) usage, ``message_delta`` the output."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.usage: dict[str, Any] = {}
        self.complete = False

    def see(self, item: Any) -> None:
        kind = getattr(item, "type", None)
        if kind == "message_start":
            self.model = item.message.model
            self.usage = dict(as_mapping(item.message.usage, "usage"))
        elif kind == "message_delta" and getattr(item, "usage", None) is not None:
            delta = as_mapping(item.usage, "usage")
            self.usage.update({k: v for k, v in delta.items() if v is not None})
            self.complete = True

    def final(self) -> object | None:
        if not self.complete:
            return None
        return {"type": "message", "model": self.model, "usage": self.usage}


def _settle_sync(meter: Meter, watch: UsageWatch, reason: str) -> None:
    usage = watch.final()
    if usage is not None:
        meter.finish_usage(usage)
    else:
        meter.finish_estimate(reason)


def _metered(inner: Any, meter: Meter, watch: UsageWatch) -> Generator[Any, None, None]:
    """Module level (not a method) so the proxy is freed, and settled, as soon as it is dropped."""
    try:
        for item in inner:
            watch.see(item)
            yield item
    except GeneratorExit:
        _settle_sync(meter, watch, "stream_closed_early")
        raise
    except BaseException as exc:
        usage = watch.final()
        if usage is not None:
            meter.finish_usage(usage)
        else:
            meter.finish_error(exc, "stream_error")
        raise
    _settle_sync(meter, watch, "stream_ended_without_usage")


async def _settle_async(meter: AsyncMeter, watch: UsageWatch, reason: str) -> None:
    usage = watch.final()
    if usage is not None:
        await meter.afinish_usage(usage)
    else:
        await meter.afinish_estimate(reason)


async def _ametered(inner: Any, meter: AsyncMeter, watch: UsageWatch) -> AsyncGenerator[Any, None]:
    try:
        async for item in inner:
            watch.see(item)
            yield item
    except GeneratorExit:
        await _settle_async(meter, watch, "stream_closed_early")
        raise
    except BaseException as exc:
        usage = watch.final()
        if usage is not None:
            await meter.afinish_usage(usage)
        else:
            await meter.afinish_error(exc, "stream_error")
        raise
    await _settle_async(meter, watch, "stream_ended_without_usage")


class MeteredStream:
    """Wraps ``openai.Stream`` / ``anthropic.Stream``."""

    def __init__(self, inner: Any, meter: Meter, watch: UsageWatch) -> None:
        self._inner = inner
        self._meter = meter
        self._watch = watch
        self._iterator = _metered(inner, meter, watch)
        self._finalizer = weakref.finalize(self, _settle_sync, meter, watch, "stream_abandoned")

    def __iter__(self) -> Iterator[Any]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def close(self) -> None:
        """Close the connection and settle what was used so far."""
        self._iterator.close()
        self._inner.close()
        _settle_sync(self._meter, self._watch, "stream_closed_early")

    def __enter__(self) -> MeteredStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def spendwarden(self) -> Meter:
        """The meter: ``.authorization``, ``.transaction`` once settled, ``.error``."""
        return self._meter


class AsyncMeteredStream:
    """Wraps ``openai.AsyncStream`` / ``anthropic.AsyncStream``."""

    def __init__(self, inner: Any, meter: AsyncMeter, watch: UsageWatch) -> None:
        self._inner = inner
        self._meter = meter
        self._watch = watch
        self._iterator = _ametered(inner, meter, watch)
        self._finalizer = weakref.finalize(self, meter.finish_later, "stream_abandoned")

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterator

    async def __anext__(self) -> Any:
        return await self._iterator.__anext__()

    async def close(self) -> None:
        await self._iterator.aclose()
        await self._inner.close()
        await _settle_async(self._meter, self._watch, "stream_closed_early")

    async def __aenter__(self) -> AsyncMeteredStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def spendwarden(self) -> AsyncMeter:
        return self._meter
