"""OpenAI proxies: ``chat.completions.create`` and ``responses.create`` are metered.

Streams get ``stream_options={"include_usage": True}`` added, so the final chunk carries
the usage and a completed stream settles the real amount, not the estimate.
"""

from __future__ import annotations

from typing import Any

from spendwarden.sdk.streams import ChatWatch, ResponsesWatch
from spendwarden.sdk.wrapping import Endpoint, MeteredCreate, Passthrough


def include_usage(kwargs: dict[str, Any]) -> None:
    options = kwargs.get("stream_options")
    kwargs["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}


CHAT = Endpoint("openai", "chat.completions", ChatWatch, include_usage)
RESPONSES = Endpoint("openai", "responses", ResponsesWatch)


class Completions(MeteredCreate):
    endpoint = CHAT


class Chat(Passthrough):
    @property
    def completions(self) -> Completions:
        return Completions(self._inner.completions, self._cfg)


class Responses(MeteredCreate):
    endpoint = RESPONSES


class WrappedOpenAI(Passthrough):
    """``openai.OpenAI`` or ``openai.AsyncOpenAI`` with metered calls."""

    @property
    def chat(self) -> Chat:
        return Chat(self._inner.chat, self._cfg)

    @property
    def responses(self) -> Responses:
        return Responses(self._inner.responses, self._cfg)

    def with_options(self, **kwargs: Any) -> WrappedOpenAI:
        return WrappedOpenAI(self._inner.with_options(**kwargs), self._cfg)

    copy = with_options
