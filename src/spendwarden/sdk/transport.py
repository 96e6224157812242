"""HTTP transports (httpx, sync and async) with retries that are safe.

Only failures that may be transient are retried: no answer at all (connection refused,
reset, timed out), 5xx and 429. A 4xx is an answer about the request itself and is
never retried. Retrying is safe because every operation that writes carries an
idempotency key or an external id (see ``ops``): a retry of a call whose answer was
lost replays the first answer instead of spending twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from spendwarden import __version__
from spendwarden.errors import SpendwardenError
from spendwarden.sdk.errors import ServerUnavailable, TransportError, error_from_body
from spendwarden.sdk.ops import Operation, new_key

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts; exponential backoff with jitter, Retry-After honoured up to a cap."""

    retries: int = 3
    backoff: float = 0.1
    max_backoff: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_retry_after))
        base = min(self.backoff * (2**attempt), self.max_backoff)
        return float(base * (0.5 + random.random() / 2))


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def headers_for(key: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"spendwarden-python/{__version__}", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def request_args(op: Operation) -> dict[str, Any]:
    """One set of arguments for every attempt: the idempotency key is fixed before the first."""
    headers = dict(op.headers)
    key = op.idempotency_key or (new_key() if op.idempotent else None)
    if key:
        headers["Idempotency-Key"] = key
    args: dict[str, Any] = {"headers": headers}
    if op.body is not None:
        args["json"] = op.body
    return args


def outcome(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a success, or the mapped exception of an error answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    raise error_from_body(response.status_code, body)


def give_up(op: Operation, last: BaseException | httpx.Response) -> SpendwardenError:
    if isinstance(last, httpx.Response):
        if last.status_code == 429:
            return error_from_body(429, _json_or_none(last))
        exc = error_from_body(last.status_code, _json_or_none(last))
        if isinstance(exc, ServerUnavailable):
            return exc
        return ServerUnavailable(
            f"{op.name}: HTTP {last.status_code} after retries.", status=last.status_code
        )
    return ServerUnavailable(f"{op.name}: {type(last).__name__}: {last}", error=type(last).__name__)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class HttpTransport:
    """Sends operations to a Spendwarden server with a pooled ``httpx.Client``."""

    def __init__(self, url: str, key: str | None, timeout: float, policy: RetryPolicy) -> None:
        self.policy = policy
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers=headers_for(key))

    def send(self, op: Operation) -> dict[str, Any]:
        last: BaseException | httpx.Response | None = None
        args = request_args(op)
        for attempt in range(self.policy.retries + 1):
            if attempt:
                wait = retry_after_seconds(last) if isinstance(last, httpx.Response) else None
                time.sleep(self.policy.delay(attempt - 1, wait))
            try:
                response = self.http.request(op.method, op.path, **args)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code not in RETRY_STATUSES:
                return outcome(response)
            last = response
        assert last is not None
        raise give_up(op, last)

    def close(self) -> None:
        self.http.close()


class AsyncHttpTransport:
    """The same over ``httpx.AsyncClient``."""

    def __init__(self, url: str, key: str | None, timeout: float, policy: RetryPolicy) -> None:
        self.policy = policy
        self.http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout, headers=headers_for(key))

    async def send(self, op: Operation) -> dict[str, Any]:
        last: BaseException | httpx.Response | None = None
        args = request_args(op)
        for attempt in range(self.policy.retries + 1):
            if attempt:
                wait = retry_after_seconds(last) if isinstance(last, httpx.Response) else None
                await asyncio.sleep(self.policy.delay(attempt - 1, wait))
            try:
                response = await self.http.request(op.method, op.path, **args)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code not in RETRY_STATUSES:
                return outcome(response)
            last = response
        assert last is not None
        raise give_up(op, last)

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["AsyncHttpTransport", "HttpTransport", "RetryPolicy", "TransportError"]
