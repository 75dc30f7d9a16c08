"""The settings every webhook sender has: where to send, batching, concurrency, timeouts and the
retry schedule. A provider's sandbox subclasses `SenderSettings` to add its own fields
(subscriptions, signature version) and to set its own defaults (its batch limit, its retry
schedule, its user agent). Pure data: this module never sends anything.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RetryPolicy(BaseModel):
    """When a failed request (connection error, timeout, non-2xx) is tried again: randomised
    exponential backoff. Providers set their own defaults; tests shrink delays to milliseconds."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(5, ge=0, le=100)
    initial_delay_ms: int = Field(60_000, ge=0)
    multiplier: float = Field(2.0, ge=1.0)
    max_delay_ms: int = Field(3600 * 1000, ge=0)
    jitter: float = Field(0.2, ge=0.0, le=1.0)  # each delay × uniform(1 - jitter, 1 + jitter)
    no_retry_statuses: list[int] = Field(default_factory=list)

    def delay_ms(self, retry_number: int, draw: float) -> float:
        """Delay before retry `retry_number` (1-based); `draw` is uniform in [0, 1)."""
        base = min(self.initial_delay_ms * self.multiplier ** (retry_number - 1), self.max_delay_ms)
        return base * (1 - self.jitter + 2 * self.jitter * draw)


class SenderSettings(BaseModel):
    """What the generic sender reads: target, batching, concurrency, timeout, retries."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    target_url: str | None = None  # nothing is sent until a target is set
    signature_url: str | None = None  # URL to sign when the target sits behind a proxy
    max_batch_size: int = Field(100, ge=1)
    flush_interval_ms: int = Field(1000, ge=0)
    max_concurrent_requests: int = Field(10, ge=1, le=100)
    timeout_ms: int = Field(5000, ge=1)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    max_queued_events: int = Field(1_000_000, ge=1)
    user_agent: str = "sandbox-webhooks"

    @field_validator("target_url", "signature_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @property
    def active(self) -> bool:
        return self.enabled and self.target_url is not None
