"""One delivery attempt over HTTP: build the request, sign the exact bytes and URL it carries
with the provider's `Signer`, apply injected faults, send, and report what happened. No queueing
or retry decisions here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.common.webhooks.faults import corrupt
from sandbox.common.webhooks.settings import SenderSettings
from sandbox.common.webhooks.wire import Signer


@dataclass
class AttemptResult:
    """The outcome of one attempt (what the delivery log shows)."""

    attempt_number: int
    sent_at_ms: int
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    fault: str | None = None
    duplicate_status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attemptNumber": self.attempt_number,
            "sent_at_ms": self.sent_at_ms,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.fault:
            out["fault"] = self.fault
        if self.duplicate_status_code is not None:
            out["duplicate_status_code"] = self.duplicate_status_code
        return out


def as_called_url(request: httpx.Request) -> str:
    """The URL a receiver reconstructs from this request: scheme, Host header, raw target."""
    return f"{request.url.scheme}://{request.headers['Host']}{request.url.raw_path.decode('ascii')}"


class WebhookTransport:
    """Sends signed webhook requests with one pooled HTTP client (no proxies, no redirects)."""

    def __init__(self) -> None:
        self._client = httpx.Client(
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    def close(self) -> None:
        self._client.close()

    def build(
        self,
        settings: SenderSettings,
        signer: Signer,
        secret: str,
        body: bytes,
        timestamp_ms: int,
        *,
        content_type: str = "application/json",
        extra_headers: Mapping[str, str] | None = None,
        fault: str | None = None,
        stale_by_ms: int = 0,
    ) -> tuple[httpx.Request, frozenset[str]]:
        """The signed request, exactly as it will go on the wire, and the (lower-case) names of
        the provider's own headers on it (signature and extra headers: what the log keeps)."""
        assert settings.target_url is not None
        request = self._client.build_request(
            "POST",
            settings.target_url,
            content=body,
            headers={
                "Content-Type": content_type,
                "User-Agent": settings.user_agent,
                **(extra_headers or {}),
            },
            timeout=settings.timeout_ms / 1000,
        )
        signed_url = settings.signature_url or as_called_url(request)
        ts = timestamp_ms - stale_by_ms if fault == "stale_timestamp" else timestamp_ms
        headers = signer.sign(body, signed_url, secret, ts)
        if fault == "corrupt_signature":
            names = set(signer.signature_headers)
            headers = {k: corrupt(v) if k in names else v for k, v in headers.items()}
        request.headers.update(headers)
        provider_headers = frozenset(k.lower() for k in (*(extra_headers or {}), *headers))
        return request, provider_headers

    def _send_once(self, request: httpx.Request) -> tuple[int | None, str | None]:
        try:
            response = self._client.send(request)
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        response.close()
        return response.status_code, None

    def send(
        self,
        request: httpx.Request,
        attempt_number: int,
        sent_at_ms: int,
        fault: str | None,
        delay_ms: int,
        logged_headers: Collection[str] = (),
    ) -> AttemptResult:
        """Send (after `delay_ms`), once or twice for a duplicate; `logged_headers` (lower-case
        names) are kept in the result for the delivery log."""
        if delay_ms:
            time.sleep(delay_ms / 1000)
        started = time.perf_counter()
        status, error = self._send_once(request)
        result = AttemptResult(
            attempt_number,
            sent_at_ms,
            status,
            error,
            (time.perf_counter() - started) * 1000,
            fault,
            headers={k: v for k, v in request.headers.items() if k.lower() in logged_headers},
        )
        if fault == "duplicate":
            result.duplicate_status_code, _ = self._send_once(request)
        return result
