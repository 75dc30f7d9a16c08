"""One delivery, start to answer: size, media type, integration, signature, rate, parse, commit.

The order keeps refusals cheap and honest: nothing is read past the Content-Length check,
nothing is parsed before the signature holds, and only authentic deliveries spend the
integration's rate budget (so forged traffic cannot get genuine deliveries refused). A 2xx is
returned only after the inbox committed; every refusal stores nothing.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from flask import Request, Response

from core.clock import clock
from core.settings import Settings
from inbox import AppendResult, InboundEvent, Inbox, InboxUnavailable
from sources.provider import Provider, ProviderRegistry, WebhookSpec, providers
from webhook_receiver.bodies import read_body, too_large
from webhook_receiver.directory import DirectoryUnavailable, IntegrationDirectory
from webhook_receiver.metrics import ReceiverMetrics
from webhook_receiver.parsing import PayloadError, parse_delivery
from webhook_receiver.ratelimit import KeyedRateLimiter, retry_after_header
from webhook_receiver.responses import Refusal, json_response, refusal_response
from webhook_receiver.stored_headers import allowed_headers, stored_headers
from webhook_receiver.verification import (
    SCHEMES,
    SignatureError,
    SignedRequest,
    Verified,
    authenticate,
    require_accepted_version,
)

log = logging.getLogger(__name__)


class DeliveryReceiver:
    """Receives deliveries for every provider; one instance per app."""

    def __init__(
        self,
        settings: Settings,
        directory: IntegrationDirectory,
        inbox: Inbox,
        metrics: ReceiverMetrics,
        registry: ProviderRegistry = providers,
    ) -> None:
        self._providers = registry
        self._max_body = settings.WEBHOOK_MAX_BODY_BYTES
        self._read_timeout_s = settings.WEBHOOK_BODY_READ_TIMEOUT_S
        self._public_base = settings.WEBHOOK_BASE_URL.rstrip("/")
        self._directory = directory
        self._inbox = inbox
        self._metrics = metrics
        # Only these request headers are stored with an event (an allow-list: see the module).
        self._stored_headers = allowed_headers(
            (h for s in SCHEMES.values() for h in s.headers),
            (h for p in registry.receiving_webhooks() for h in p.webhooks.stored_headers),
        )
        self._limiter = KeyedRateLimiter(
            settings.WEBHOOK_RATE_LIMIT_PER_SECOND, settings.WEBHOOK_RATE_LIMIT_BURST
        )

    def receive(self, provider: str, integration_id: str, request: Request) -> Response:
        started = time.perf_counter()
        metrics = self._metrics.bound(provider)
        metrics.received.inc()
        try:
            result, verified = self._accept(provider, integration_id, request)
        except Refusal as refusal:
            self._metrics.rejected.labels(metrics.label, refusal.code).inc()
            metrics.rejected_latency.observe(time.perf_counter() - started)
            return refusal_response(refusal)
        if result.inserted:
            metrics.accepted.inc(result.inserted)
        if result.duplicates:
            metrics.duplicates.inc(result.duplicates)
        metrics.accepted_latency.observe(time.perf_counter() - started)
        # Some senders require an exact status (the scheme says which).
        status = verified.scheme.success_status
        return json_response({"accepted": result.inserted, "duplicates": result.duplicates}, status)

    def _webhook_provider(self, name: str) -> tuple[Provider, WebhookSpec]:
        """The registered provider called `name` and its webhook spec, else a 404."""
        found = self._providers.get(name) if name in self._providers else None
        if found is None or found.webhooks is None:
            raise Refusal(404, "unknown_provider", f"no webhook endpoint for {name!r}")
        return found, found.webhooks

    def _accept(
        self, provider: str, integration_id: str, request: Request
    ) -> tuple[AppendResult, Verified]:
        spec, webhooks = self._webhook_provider(provider)
        if request.content_length is not None and request.content_length > self._max_body:
            raise too_large(self._max_body)
        media_type = request.mimetype
        if media_type not in webhooks.media_types:
            named = " or ".join(sorted(t for t in webhooks.media_types if t))
            raise Refusal(415, "unsupported_media_type", f"{provider} deliveries are {named}")
        try:
            target = self._directory.lookup(integration_id)
        except DirectoryUnavailable as exc:
            log.warning("webhook for %s refused: %s", integration_id, exc)
            raise Refusal(
                503,
                "registry_unavailable",
                "integrations cannot be looked up right now",
                headers={"Retry-After": "5"},
            ) from None
        if target is None or target.provider != provider:
            raise Refusal(
                404, "unknown_integration", f"no {provider} integration {integration_id!r}"
            )
        headers = _headers(request.environ)
        signed = SignedRequest(
            request.method,
            self._urls(request),
            headers,
            read_body(request, self._max_body, self._read_timeout_s),
        )
        try:
            verified = authenticate(spec, signed, target.secret, now_ms=clock.now_ms())
            require_accepted_version(verified, target.signature_versions)
        except SignatureError as exc:
            raise Refusal(401, exc.code, exc.message) from None
        wait = self._limiter.acquire(integration_id)
        if wait is not None:
            raise Refusal(
                429,
                "rate_limited",
                f"integration {integration_id} is over its delivery rate; retry later",
                headers={"Retry-After": retry_after_header(wait)},
            )
        try:
            parsed = parse_delivery(spec, verified.label, signed, media_type)
        except PayloadError as exc:
            raise Refusal(exc.status, exc.code, exc.message) from None
        received_at = clock.now()
        safe = stored_headers(headers, self._stored_headers)
        events = [
            InboundEvent(
                provider,
                integration_id,
                p.delivery_id,
                p.event_type,
                p.object_type,
                p.object_id,
                p.payload,
                safe,
                verified.label,
                received_at,
            )
            for p in parsed
        ]
        try:
            return self._inbox.append(events), verified
        except InboxUnavailable as exc:
            log.error("webhook for %s not stored: %s", integration_id, exc)
            raise Refusal(
                503,
                "inbox_unavailable",
                "the delivery could not be stored; retry later",
                headers={"Retry-After": "5"},
            ) from None

    def _urls(self, request: Request) -> tuple[str, ...]:
        """The URL as called: as this server saw it, and under WEBHOOK_BASE_URL (a proxy)."""
        environ = request.environ
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not raw:
            raw = quote(environ.get("PATH_INFO", ""), safe="/;=,:@!$&'()*+~")
            if environ.get("QUERY_STRING"):
                raw += "?" + environ["QUERY_STRING"]
        seen = f"{request.scheme}://{request.host}{raw}"
        public = self._public_base + raw
        return (seen,) if public == seen else (seen, public)


def _headers(environ: dict) -> dict[str, str]:
    """Request headers with lower-cased names, straight from the WSGI environ (hot path)."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers[name] = environ[key]
    return headers
