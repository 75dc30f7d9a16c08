"""API-key authentication and per-key rate limiting for the integrations API.

Keys come from API_KEYS (comma separated) and are compared in constant time against every
configured key. No key configured means the API is off (503), never open. The audit log
records a key's fingerprint as the actor, never the key.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Request

from webhook_receiver.ratelimit import KeyedRateLimiter, retry_after_header
from webhook_receiver.responses import Refusal


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiKeyGuard:
    def __init__(self, keys: list[str], per_minute: int) -> None:
        self._keys = [k.encode() for k in keys]
        self._limiter = KeyedRateLimiter(max(per_minute, 1) / 60.0, max(per_minute, 1))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, request: Request) -> str:
        """The actor name for the audit log, or a Refusal (503, 401, 429)."""
        if not self._keys:
            raise Refusal(
                503,
                "api_disabled",
                "the integrations API is disabled: set API_KEYS (comma-separated keys) to "
                "enable it",
            )
        supplied = _supplied_key(request)
        if supplied is None:
            raise Refusal(
                401,
                "unauthorized",
                "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        candidate = supplied.encode()
        matched = False
        for key in self._keys:  # every key is compared: timing does not reveal which matched
            matched |= hmac.compare_digest(key, candidate)
        if not matched:
            raise Refusal(
                401, "unauthorized", "unknown API key", headers={"WWW-Authenticate": "Bearer"}
            )
        actor = f"api-key:{fingerprint(supplied)}"
        self.limit(actor)
        return actor

    def limit(self, key: str) -> None:
        wait = self._limiter.acquire(key)
        if wait is not None:
            raise Refusal(
                429,
                "rate_limited",
                "too many API requests; retry later",
                headers={"Retry-After": retry_after_header(wait)},
            )


def _supplied_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("X-API-Key", "").strip()
    return key or None
