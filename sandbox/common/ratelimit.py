"""Rate limits a sandbox enforces: a rolling burst window per app kind, a daily quota and a
one-second bucket (for search-like endpoints).

Windows use real monotonic time (not the sandbox clock); the daily counter resets when the day
the caller passes changes (the sandbox clock's UTC date). The policy names follow HubSpot's
(TEN_SECONDLY_ROLLING, DAILY, SECONDLY) as neutral labels; a provider's sandbox renders them as
its own headers and bodies.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class Decision:
    allowed: bool
    policy: str | None  # policy that refused: TEN_SECONDLY_ROLLING | DAILY | SECONDLY
    limit: int
    remaining: int
    daily_limit: int
    daily_remaining: int


class RateLimiter:
    """Counts requests per app kind ("private_app" / "oauth") and for search."""

    def __init__(
        self, ten_second: int, oauth_ten_second: int | None, daily: int, search_per_s: int
    ) -> None:
        self.ten_second = ten_second
        self.oauth_ten_second = oauth_ten_second
        self.daily = daily
        self.search_per_s = search_per_s
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: deque[float] = deque()
        self._day: str = ""
        self._daily_count = 0

    def burst_limit(self, kind: str) -> int:
        if kind == "oauth" and self.oauth_ten_second is not None:
            return self.oauth_ten_second
        return self.ten_second

    def check(self, kind: str, day: str) -> Decision:
        """Count one API call of this app kind, unless a limit refuses it."""
        now = time.monotonic()
        limit = self.burst_limit(kind)
        with self._lock:
            if day != self._day:
                self._day, self._daily_count = day, 0
            window = self._windows.setdefault(kind, deque())
            while window and window[0] <= now - 10.0:
                window.popleft()
            if self._daily_count >= self.daily:
                return Decision(False, "DAILY", limit, max(0, limit - len(window)), self.daily, 0)
            if len(window) >= limit:
                return Decision(
                    False,
                    "TEN_SECONDLY_ROLLING",
                    limit,
                    0,
                    self.daily,
                    self.daily - self._daily_count,
                )
            window.append(now)
            self._daily_count += 1
            return Decision(
                True,
                None,
                limit,
                limit - len(window),
                self.daily,
                self.daily - self._daily_count,
            )

    def check_search(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            if len(self._search) >= self.search_per_s:
                return False
            self._search.append(now)
            return True

    def reset_counters(self) -> None:
        with self._lock:
            self._windows.clear()
            self._search.clear()
            self._daily_count = 0
