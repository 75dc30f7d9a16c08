"""The one HTTP client every provider client uses: retries, a proactive rate budget, counters.

It knows nothing about any provider's paths or bodies. A provider plugs in by passing a
`RateBudget` that reads its headers and an `error_for` hook that turns a refused response into
our error taxonomy. It must never log request bodies, query strings or Authorization headers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from core.errors import IntegrationError, MalformedResponseError, ProviderError, RateLimitError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass
class RequestStats:
    """What one client did: reported as run metadata, compared in benchmarks. Counting is
    safe from several threads (a read-ahead thread and its consumer may share a client)."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    bytes_received: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, kind: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def received(self, size: int) -> None:
        with self._lock:
            self.bytes_received += size


class RateBudget:
    """Stays under a rolling-window limit before the provider has to say no.

    The provider's headers tell us the window size and how much is left; we remember when we
    sent our own recent requests, and when the remaining budget drops to `reserve` we wait until
    the oldest of them leaves the window. `min_interval` paces buckets that send no headers
    (HubSpot search: 5 requests per second).
    """

    def __init__(
        self,
        *,
        reserve: int = 2,
        min_interval: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reserve = reserve
        self.min_interval = min_interval
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._remaining: int | None = None
        self._interval_s: float | None = None
        self._last_sent = 0.0

    def observe(self, remaining: int | None, interval_s: float | None) -> None:
        with self._lock:
            if remaining is not None:
                self._remaining = remaining
            if interval_s:
                self._interval_s = interval_s

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        waited = 0.0
        with self._lock:
            now = time.monotonic()
            if self.min_interval:
                gap = self._last_sent + self.min_interval - now
                if gap > 0:
                    waited += gap
            if self._interval_s is not None:
                while self._sent and self._sent[0] <= now - self._interval_s:
                    self._sent.popleft()
                if self._remaining is not None and self._remaining <= self.reserve and self._sent:
                    # Wait until our oldest request in the window has rolled out of it.
                    waited = max(waited, self._sent[0] + self._interval_s - now)
                    self._sent.popleft()
                    self._remaining += 1
            self._last_sent = now + waited
            self._sent.append(now + waited)
        if waited > 0:
            self._sleep(waited)
        return waited


@dataclass
class RetryPolicy:
    """How hard to try before giving up. Backoff is exponential with full jitter."""

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    rate_limit_fallback_wait: float = 1.0
    # A 429 is the provider pacing us, not a failure: keep waiting until this much time was
    # spent on one request, however many refusals that takes.
    rate_limit_max_wait_s: float = 900.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1))))


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A response body as a JSON object, or {} (error bodies are read for their fields, and a
    provider may answer an error with HTML, a bare list or nothing)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


ErrorHook = Callable[[httpx.Response], IntegrationError | None]


class ApiClient:
    """A JSON HTTP client with retries on 5xx, timeouts, resets, 429s and truncated bodies."""

    def __init__(
        self,
        base_url: str,
        *,
        provider: str,
        integration_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_header: Callable[[], Mapping[str, str]] | None = None,
        budget: RateBudget | None = None,
        read_budget_headers: Callable[[httpx.Headers], tuple[int | None, float | None]]
        | None = None,
        error_for: ErrorHook | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        request_guard: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.integration_id = integration_id
        self.stats = RequestStats()
        self._auth_header = auth_header
        self._budget = budget
        self._read_budget_headers = read_budget_headers
        self._error_for = error_for
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
            # The host policy sees every request before it leaves, redirect hops included.
            event_hooks={"request": [request_guard]} if request_guard else None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, message: str, cls: type[IntegrationError] = ProviderError, **kw: Any):
        return cls(message, provider=self.provider, integration_id=self.integration_id, **kw)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        kind: str = "other",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        budget: RateBudget | None = None,
        on_auth_failure: Callable[[httpx.Response], bool] | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        """Send one logical request and return the decoded JSON body (None for 204).

        `on_auth_failure` is called on a 401; if it returns True (credentials were refreshed)
        the request is retried once with fresh headers. `decode` turns a 2xx body into the
        result (e.g. straight into Arrow); it raises `orjson.JSONDecodeError` for a body that
        is not JSON, which is refetched like a truncated page.
        """
        content = orjson.dumps(json) if json is not None else None
        attempt = 0
        rate_limited = 0
        rate_limit_waited = 0.0
        auth_retried = False
        budget = budget or self._budget
        while True:
            attempt += 1
            if budget is not None:
                waited = budget.acquire()
                if waited > 0:
                    self.stats.rate_limit_waits += 1
                    self.stats.rate_limit_wait_s += waited
            headers = dict(self._auth_header() if self._auth_header else {})
            if content is not None:
                headers["Content-Type"] = "application/json"
            self.stats.count(kind)
            try:
                response = self._http.request(
                    method, path, params=params, content=content, data=data, headers=headers
                )
            except TRANSPORT_ERRORS as exc:
                if attempt >= self._retry.max_attempts:
                    raise self._error(
                        f"{method} {path} failed after {attempt} attempts: {type(exc).__name__}",
                        hint="the provider or the network is unreliable; rerun the sync",
                    ) from exc
                self._note_retry(self._retry.backoff(attempt))
                continue
            self.stats.received(len(response.content))
            status = response.status_code
            if budget is not None and self._read_budget_headers is not None and status != 429:
                # A 429 is handled by its own backoff below; its headers would double the wait.
                budget.observe(*self._read_budget_headers(response.headers))
            if status == 401 and on_auth_failure is not None and not auth_retried:
                auth_retried = True
                if on_auth_failure(response):
                    attempt -= 1
                    continue
            if status == 429:
                rate_limited += 1
                attempt -= 1  # pacing, not a failed attempt
                wait = self._retry_after(response, rate_limited)
                if rate_limit_waited + wait > self._retry.rate_limit_max_wait_s:
                    raise self._refusal(response, RateLimitError)
                rate_limit_waited += wait
                self.stats.rate_limit_waits += 1
                self.stats.rate_limit_wait_s += wait
                self._note_retry(wait)
                continue
            if status in RETRYABLE_STATUS:
                if attempt >= self._retry.max_attempts:
                    raise self._refusal(response, ProviderError)
                self._note_retry(self._retry.backoff(attempt))
                continue
            if status >= 400:
                raise self._refusal(response, ProviderError)
            if status == 204 or not response.content:
                return None
            try:
                return decode(response.content)
            except orjson.JSONDecodeError as exc:
                if attempt >= self._retry.max_attempts:
                    raise self._error(
                        f"{method} {path} returned a body that is not JSON",
                        MalformedResponseError,
                        hint="the provider sent a truncated or corrupt page; rerun the sync",
                    ) from exc
                self._note_retry(self._retry.backoff(attempt))

    def _note_retry(self, wait: float) -> None:
        self.stats.retries += 1
        if wait > 0:
            self._sleep(wait)

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        value = response.headers.get("Retry-After")
        if value:
            try:
                return min(float(value), self._retry.backoff_max)
            except ValueError:
                pass
        return min(
            self._retry.rate_limit_fallback_wait * (2 ** (attempt - 1)), self._retry.backoff_max
        )

    def _refusal(self, response: httpx.Response, default: type[IntegrationError]):
        if self._error_for is not None:
            err = self._error_for(response)
            if err is not None:
                return err
        return self._error(
            f"HTTP {response.status_code} from {response.request.method} {response.request.url.path}",
            default,
            status_code=response.status_code,
        )
