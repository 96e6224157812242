"""Rate limiting per key: a token bucket per principal, 429 with ``Retry-After`` beyond it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendwarden.api.app import create_app
from spendwarden.api.ratelimit import RateLimiter
from spendwarden.clock import FrozenClock
from spendwarden.config import Settings
from spendwarden.errors import RateLimited
from spendwarden.runtime import build_runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, make_agent


class Tick:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    tick = Tick()
    limiter = RateLimiter(2.0, 3, clock=tick)
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(RateLimited) as raised:
        limiter.check("k")
    assert raised.value.details["retry_after"] == 1
    limiter.check("other")  # buckets are per key
    tick.now += 0.5  # one token back at 2/s
    limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")
    tick.now += 100  # refills only up to the burst
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    tick = Tick()
    limiter = RateLimiter(0.1, 1, clock=tick)
    limiter.check("k")
    with pytest.raises(RateLimited) as raised:
        limiter.check("k")
    assert raised.value.details["retry_after"] == 10


def test_full_buckets_are_forgotten_when_many_keys_are_tracked(monkeypatch: pytest.MonkeyPatch) -> None:
    from spendwarden.api import ratelimit

    monkeypatch.setattr(ratelimit, "PRUNE_ABOVE", 10)
    tick = Tick()
    limiter = RateLimiter(1.0, 2, clock=tick)
    for i in range(10):
        limiter.check(f"k{i}")
    tick.now += 5
    limiter.check("new")
    assert len(limiter) == 1


def test_off_by_default() -> None:
    assert RateLimiter.from_settings(Settings(database_url="sqlite://")) is None
    on = RateLimiter.from_settings(Settings(database_url="sqlite://", rate_limit_per_second=5))
    assert on is not None and on.rate == 5


@pytest.fixture
def limited_client(database_url: str, clock: FrozenClock) -> Iterator[Any]:
    settings = Settings(
        database_url=database_url, admin_token=ADMIN_TOKEN, rate_limit_per_second=0.5, rate_limit_burst=3
    )
    runtime = build_runtime(settings, clock=clock, migrate=False)
    with TestClient(create_app(runtime, run_workers=False)) as client:
        yield client
    runtime.close()


def test_the_api_answers_429_with_retry_after_per_key(limited_client: Any) -> None:
    ledger = limited_client.app.state.runtime.ledger
    a, b = bearer(make_agent(ledger, "a")), bearer(make_agent(ledger, "b"))
    codes = [limited_client.post("/v1/authorize", json={"amount_usd": "0.01"}, headers=a) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    refused = codes[-1]
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["details"]["retry_after"] == 2
    assert ledger.view("a")["held"] == "0.030000"  # the refused request changed nothing
    assert limited_client.get("/v1/me", headers=b).status_code == 200  # another key is unaffected
    assert limited_client.get("/healthz").status_code == 200  # unauthenticated paths are not limited
