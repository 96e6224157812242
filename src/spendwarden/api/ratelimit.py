"""Per-key rate limiting: one token bucket per principal, in memory, per process.

A runaway agent loop must not starve the others of the server, so each API key (or admin
token) gets ``rate_limit_per_second`` requests per second with bursts up to
``rate_limit_burst``; beyond that the request is refused with 429 and ``Retry-After``
before any database work. The buckets live in this process only: with N replicas behind a
load balancer a key gets at most N times the rate, which is the usual trade for not
putting a shared counter on the hot path. Caps, not this limiter, guard the money.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from spendwarden.config import Settings
from spendwarden.errors import RateLimited

# Above this many tracked keys, buckets that have refilled completely are dropped: a full
# bucket is the same as no bucket, so forgetting it changes nobody's allowance.
PRUNE_ABOVE = 100_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by principal; ``check`` takes one token or raises ``RateLimited``."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use no limiter for unlimited")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The limiter the settings ask for, or None when rate limiting is off (rate 0)."""
        if settings.rate_limit_per_second <= 0:
            return None
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"Rate limit of {self.rate:g} requests/s exceeded; retry in {retry_after} s.",
                retry_after=retry_after,
                limit_per_second=self.rate,
                burst=int(self.burst),
            )

    def take(self, key: str) -> float:
        """Take one token for ``key``; returns 0 when allowed, else seconds until one is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= PRUNE_ABOVE:
                    self._prune(now)
                bucket = self._buckets[key] = Bucket(self.burst, now)
            else:
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
