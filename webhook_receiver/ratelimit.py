"""Token buckets per key (an integration id, an API key), kept in this process.

Each gunicorn worker has its own buckets, so N workers allow up to N times the configured rate
in total; set the limits per worker accordingly. Durations use time.monotonic, not the business
clock: freezing the clock in a test must not freeze refills.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class KeyedRateLimiter:
    """`rate` tokens per second up to `burst`, per key; one token per request."""

    def __init__(
        self,
        rate_per_second: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self._max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """Take a token; None when allowed, else the seconds until one is available."""
        now = self._monotonic()
        with self._lock:
            tokens, updated = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = None
            else:
                self._buckets[key] = (tokens, now)
                allowed = (1.0 - tokens) / self.rate
            while len(self._buckets) > self._max_keys:
                # the least recently seen key is the one most likely refilled to the burst
                self._buckets.popitem(last=False)
            return allowed


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (HTTP's Retry-After has no fractions)."""
    return str(max(1, math.ceil(seconds)))
