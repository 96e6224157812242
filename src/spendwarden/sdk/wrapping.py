"""``spendwarden.wrap(llm_client, spendwarden_client)``: put every LLM call behind a hold.

    client = spendwarden.Client(key=...)
    llm = spendwarden.wrap(openai.OpenAI(), client, tool="summarize")
    llm.chat.completions.create(model="gpt-4o-mini", messages=[...])   # authorized, then settled

Works for ``openai.OpenAI``/``AsyncOpenAI`` (``chat.completions.create``,
``responses.create``) and ``anthropic.Anthropic``/``AsyncAnthropic`` (``messages.create``,
``messages.stream``), streaming included. Each call is authorized from an estimate
(``estimate.py``) before it is made — a cap or a halt stops it before any money moves —
and settled from the real usage afterwards (``meter.py``, ``streams.py``). Per call,
``spendwarden_task_id=`` and ``spendwarden_tool=`` override the wrapper's defaults and are
removed before the provider's SDK sees the arguments; without either, the current
``client.task(...)`` applies.

The proxies wrap only those methods; every other attribute is the real client's.
Not metered: ``with_raw_response`` / ``with_streaming_response`` and OpenAI's
``.stream()`` / ``.parse()`` helpers (call ``create`` instead, or use ``client.spend``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spendwarden.sdk.estimate import EstimatePolicy, estimate_call
from spendwarden.sdk.meter import AsyncMeter, CallPlan, Meter
from spendwarden.sdk.streams import AsyncMeteredStream, MeteredStream, UsageWatch

T = TypeVar("T")
TASK_KWARG = "spendwarden_task_id"
TOOL_KWARG = "spendwarden_tool"


@dataclass(frozen=True)
class WrapConfig:
    client: Any
    task_id: str | None = None
    tool: str | None = None
    policy: EstimatePolicy = field(default_factory=EstimatePolicy)
    is_async: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One metered method: its provider, its name in the ledger, how to read its streams."""

    provider: str
    name: str
    watch: Callable[[], UsageWatch]
    prepare_stream: Callable[[dict[str, Any]], None] = lambda kwargs: None


def plan_call(cfg: WrapConfig, endpoint: Endpoint, kwargs: dict[str, Any]) -> CallPlan:
    """Pop our own arguments and size the authorization."""
    task_id = kwargs.pop(TASK_KWARG, None) or cfg.task_id
    tool = kwargs.pop(TOOL_KWARG, None) or cfg.tool
    if kwargs.get("stream"):
        endpoint.prepare_stream(kwargs)
    model = kwargs.get("model")
    model = model if isinstance(model, str) else None
    estimate = estimate_call(endpoint.provider, model, kwargs, cfg.policy)
    return CallPlan(endpoint.provider, endpoint.name, model, estimate, task_id, tool)


def metered_call(
    cfg: WrapConfig, endpoint: Endpoint, create: Callable[..., Any], kwargs: dict[str, Any]
) -> Any:
    plan = plan_call(cfg, endpoint, kwargs)
    meter = Meter(cfg.client, plan)
    meter.open()
    try:
        result = create(**kwargs)
    except BaseException as exc:
        meter.finish_error(exc)
        raise
    if kwargs.get("stream"):
        return MeteredStream(result, meter, endpoint.watch())
    if getattr(result, "usage", None) is not None:
        meter.finish_usage(result)
    else:
        meter.finish_estimate("response_without_usage")
    return result


async def ametered_call(
    cfg: WrapConfig, endpoint: Endpoint, create: Callable[..., Any], kwargs: dict[str, Any]
) -> Any:
    plan = plan_call(cfg, endpoint, kwargs)
    meter = AsyncMeter(cfg.client, plan)
    await meter.aopen()
    try:
        result = await create(**kwargs)
    except BaseException as exc:
        await meter.afinish_error(exc)
        raise
    if kwargs.get("stream"):
        return AsyncMeteredStream(result, meter, endpoint.watch())
    if getattr(result, "usage", None) is not None:
        await meter.afinish_usage(result)
    else:
        await meter.afinish_estimate("response_without_usage")
    return result


class Passthrough:
    """Every attribute not overridden is the wrapped object's."""

    def __init__(self, inner: Any, cfg: WrapConfig) -> None:
        self._inner = inner
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<spendwarden-wrapped {self._inner!r}>"


class MeteredCreate(Passthrough):
    """A resource whose ``create`` is metered (``chat.completions``, ``responses``, ``messages``)."""

    endpoint: Endpoint

    def create(self, **kwargs: Any) -> Any:
        if self._cfg.is_async:
            return ametered_call(self._cfg, self.endpoint, self._inner.create, kwargs)
        return metered_call(self._cfg, self.endpoint, self._inner.create, kwargs)


def wrap(
    llm_client: T,
    client: Any,
    *,
    task_id: str | None = None,
    tool: str | None = None,
    default_estimate: str | None = None,
    default_max_tokens: int | None = None,
) -> T:
    """Wrap an OpenAI or Anthropic client (sync or async) so each call is authorized and settled.

    ``default_estimate`` is authorized when the model cannot be priced (default $0.05);
    ``default_max_tokens`` sizes the output when a call sets no bound (default 1024).
    """
    policy = EstimatePolicy(
        default_estimate=default_estimate or EstimatePolicy.default_estimate,
        default_max_tokens=default_max_tokens or EstimatePolicy.default_max_tokens,
    )
    # The SDKs' async ``create`` methods are decorated sync functions returning coroutines,
    # so the client's class (``AsyncOpenAI``, ``AsyncAnthropic``, ...) decides.
    is_async = any(cls.__name__.startswith("Async") for cls in type(llm_client).__mro__)
    cfg = WrapConfig(client=client, task_id=task_id, tool=tool, policy=policy, is_async=is_async)
    module = type(llm_client).__module__.split(".")[0]
    if module == "openai":
        from spendwarden.sdk.wrap_openai import WrappedOpenAI

        return WrappedOpenAI(llm_client, cfg)  # type: ignore[return-value]
    if module == "anthropic":
        from spendwarden.sdk.wrap_anthropic import WrappedAnthropic

        return WrappedAnthropic(llm_client, cfg)  # type: ignore[return-value]
    raise TypeError(f"spendwarden.wrap supports openai and anthropic clients, not {type(llm_client)!r}")
