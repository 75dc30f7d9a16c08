"""API-key authentication, organisation scope and per-key rate limiting for the integrations API.

API_KEYS is a comma-separated list of entries, each one of:

- `ORG:KEY`  the key acts for organisation ORG only: it lists, reads, deletes and authorizes
  that organisation's integrations and creates integrations in it, and nothing else;
- `*:KEY`    an admin key: every organisation;
- `KEY`      (no colon: the form before keys had a scope) an admin key too, so existing
  deployments keep working; a warning at start-up asks to bind it.

The first colon separates the scope, so a key may itself contain colons but an organisation id
may not. Keys are compared in constant time against every configured key. No key configured
means the API is off (503), never open. The audit log records a key's fingerprint as the actor,
never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from flask import Request

from webhook_receiver.ratelimit import KeyedRateLimiter, retry_after_header
from webhook_receiver.responses import Refusal

log = logging.getLogger(__name__)

ADMIN_SCOPE = "*"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Principal:
    """Who called: the audit actor and the one organisation it may act for (None: every one)."""

    actor: str
    organization_id: str | None

    @property
    def admin(self) -> bool:
        return self.organization_id is None

    def may_see(self, organization_id: str) -> bool:
        return self.organization_id is None or self.organization_id == organization_id


@dataclass(frozen=True)
class ApiKeyGrant:
    """One configured key and the organisation it is bound to (None: admin)."""

    key: str
    organization_id: str | None


def parse_api_keys(entries: list[str]) -> list[ApiKeyGrant]:
    """`ORG:KEY`, `*:KEY` or a bare legacy `KEY` (admin); a malformed entry fails start-up."""
    grants: list[ApiKeyGrant] = []
    legacy = 0
    for entry in entries:
        scope, colon, key = entry.partition(":")
        if not colon:
            grants.append(ApiKeyGrant(entry, None))
            legacy += 1
            continue
        scope, key = scope.strip(), key.strip()
        if not scope or not key:
            raise ValueError(
                "API_KEYS: every entry is ORG:KEY, *:KEY (admin) or KEY; "
                f"an entry with an empty {'organisation' if not scope else 'key'} was given"
            )
        grants.append(ApiKeyGrant(key, None if scope == ADMIN_SCOPE else scope))
    if legacy:
        log.warning(
            "API_KEYS: %d key(s) without an organisation act as admin keys for every "
            "organisation; bind each to one as ORG:KEY (or mark it *:KEY)",
            legacy,
        )
    return grants


class ApiKeyGuard:
    def __init__(self, keys: list[str], per_minute: int) -> None:
        self._grants = [(g.key.encode(), g.organization_id) for g in parse_api_keys(keys)]
        self._limiter = KeyedRateLimiter(max(per_minute, 1) / 60.0, max(per_minute, 1))

    @property
    def enabled(self) -> bool:
        return bool(self._grants)

    def authenticate(self, request: Request) -> Principal:
        """The caller (actor for the audit log, organisation scope), or a Refusal (503, 401,
        429). Runs before any lookup, so an anonymous caller learns nothing about ids."""
        if not self._grants:
            raise Refusal(
                503,
                "api_disabled",
                "the integrations API is disabled: set API_KEYS (comma-separated ORG:KEY or "
                "*:KEY entries) to enable it",
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
        matched: tuple[bool, str | None] = (False, None)
        for key, organization_id in self._grants:
            # every key is compared and none ends the loop: timing does not reveal which matched
            if hmac.compare_digest(key, candidate) and not matched[0]:
                matched = (True, organization_id)
        if not matched[0]:
            raise Refusal(
                401, "unauthorized", "unknown API key", headers={"WWW-Authenticate": "Bearer"}
            )
        actor = f"api-key:{fingerprint(supplied)}"
        self.limit(actor)
        return Principal(actor=actor, organization_id=matched[1])

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
