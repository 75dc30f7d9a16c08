"""One clock the whole platform reads, so tests can freeze or move time in one place.

Never call `time.time()` or `datetime.now()` for business logic elsewhere: ask `clock`.
Monotonic durations (timings, backoff sleeps) may use `time.monotonic` directly.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Wall clock with an optional frozen value or offset, settable by tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: float | None = None
        self._offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch (float)."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now(self) -> datetime:
        """Aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def now_ms(self) -> int:
        """Epoch milliseconds, the unit HubSpot uses everywhere."""
        return int(self.time() * 1000)

    def freeze(self, at: float | None = None) -> None:
        with self._lock:
            self._frozen = time.time() if at is None else at

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def reset(self) -> None:
        """Back to real time: neither frozen nor offset (a test's `advance` must not leak)."""
        with self._lock:
            self._frozen = None
            self._offset = 0.0
            self._offset = 0.0


clock = Clock()
