"""Fault drawing shared by every sandbox: API faults per request and webhook faults per attempt.

`draw_fault` picks a fault kind either by rate (seeded RNG) or deterministically for the next N
matching calls; `FaultInjector` holds an API fault configuration and decides per request path.
What a fault looks like on the wire (a provider's error bodies) is the provider sandbox's
business, never this module's.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

KINDS = ("5xx", "429", "reset", "malformed")


class InjectedConnectionReset(Exception):
    """Raised inside a response body to make the server drop the connection mid-body."""


@dataclass
class FaultConfig:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    latency_ms: int = 0
    rate_reset: float = 0.0
    rate_malformed: float = 0.0
    path_regex: str | None = None
    next_n: int | None = None
    seed: int = 0


class FaultInjector:
    """Holds the active fault configuration and decides per request.

    Paths under `exempt_prefixes` (the admin interface, an OAuth server) never get a fault
    unless the configuration's `path_regex` names them.
    """

    def __init__(self, exempt_prefixes: tuple[str, ...] = ("/_sandbox/",)) -> None:
        self._lock = threading.Lock()
        self.exempt_prefixes = exempt_prefixes
        self.config = FaultConfig()
        self._rng = random.Random(0)
        self._regex: re.Pattern[str] | None = None
        self._remaining: int | None = None

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._regex = re.compile(config.path_regex) if config.path_regex else None
            self._remaining = config.next_n

    def clear(self) -> None:
        self.configure(FaultConfig())

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data = dict(self.config.__dict__)
            data["next_n_remaining"] = self._remaining
            return data

    def decide(self, path: str) -> tuple[str | None, int]:
        """(fault kind or None, latency ms) for a request path."""
        with self._lock:
            cfg = self.config
            if self._regex is not None:
                if not self._regex.search(path):
                    return None, 0
            elif path.startswith(self.exempt_prefixes):
                return None, 0
            rates = (cfg.rate_5xx, cfg.rate_429, cfg.rate_reset, cfg.rate_malformed)
            kind, self._remaining, applies = draw_fault(KINDS, rates, self._rng, self._remaining)
            return kind, cfg.latency_ms if applies else 0

    def pick_5xx(self) -> int:
        with self._lock:
            return self._rng.choice((502, 503, 504))


def draw_fault(
    kinds: Sequence[str], rates: Sequence[float], rng: random.Random, remaining: int | None
) -> tuple[str | None, int | None, bool]:
    """Which fault the next request gets: (kind or None, the next-N budget left, whether the
    fault settings apply at all).

    With a next-N budget the first kind with a positive rate applies until the budget is spent
    (then nothing applies, latency included); without one, one uniform draw over the
    cumulative rates picks a kind, or none.
    """
    if remaining is not None:
        if remaining <= 0:
            return None, remaining, False
        kind = next((k for k, r in zip(kinds, rates, strict=True) if r > 0), None)
        return kind, remaining - 1, True
    draw = rng.random()
    acc = 0.0
    for kind, rate in zip(kinds, rates, strict=True):
        acc += rate
        if draw < acc:
            return kind, None, True
    return None, None, True
