"""Fault injection for webhook deliveries, in the shape of the API's `/_sandbox/faults`.

Per delivery attempt: `duplicate` (the same signed request is sent twice), `corrupt_signature`
(every signature header altered, see `corrupt`), `stale_timestamp` (correctly signed, but with a
timestamp `stale_by_ms` in the past, older than a receiver's replay window), plus a fixed
`delay_ms` before sending. Chosen by rate (seeded RNG) or for the next N attempts, so receivers'
idempotency and refusals can be tested. Deciding only: this module never sends.
"""

from __future__ import annotations

import random
import threading

from pydantic import BaseModel, ConfigDict, Field

from sandbox.common.faults import draw_fault

KINDS = ("duplicate", "corrupt_signature", "stale_timestamp")


class WebhookFaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_duplicate: float = Field(0.0, ge=0.0, le=1.0)
    rate_corrupt_signature: float = Field(0.0, ge=0.0, le=1.0)
    rate_stale_timestamp: float = Field(0.0, ge=0.0, le=1.0)
    stale_by_ms: int = Field(10 * 60 * 1000, ge=0)
    delay_ms: int = Field(0, ge=0)
    next_n: int | None = Field(None, ge=0)  # faults hit exactly the next N attempts
    seed: int = 0


class WebhookFaultInjector:
    """Holds the active webhook fault configuration and decides per delivery attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config = WebhookFaultConfig()
        self._rng = random.Random(0)
        self._remaining: int | None = None

    def configure(self, config: WebhookFaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._remaining = config.next_n

    def clear(self) -> None:
        self.configure(WebhookFaultConfig())

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data: dict[str, object] = self.config.model_dump()
            data["next_n_remaining"] = self._remaining
            return data

    def decide(self) -> tuple[str | None, int]:
        """(fault kind or None, delay ms) for the next attempt."""
        with self._lock:
            cfg = self.config
            rates = (cfg.rate_duplicate, cfg.rate_corrupt_signature, cfg.rate_stale_timestamp)
            kind, self._remaining, applies = draw_fault(KINDS, rates, self._rng, self._remaining)
            return kind, cfg.delay_ms if applies else 0


def corrupt(signature: str) -> str:
    """A signature of the same shape that cannot verify. The first character changes: in
    base64 the last one may hold only padding bits that lenient decoders ignore."""
    if not signature:
        return "0"
    first = "A" if signature[0] not in "Aa" else "B"
    if all(c in "0123456789abcdef" for c in signature):  # hex
        first = "0" if signature[0] != "0" else "1"
    return first + signature[1:]
