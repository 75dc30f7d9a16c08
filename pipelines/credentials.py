"""Access-token providers: what an API client asks for a bearer token, and for a fresh one.

OAuth refresh happens under the vault's per-integration lock and re-reads the vault first, so two
processes never both spend a (rotating) refresh token. Never log or audit a token value.
"""

from __future__ import annotations

import logging
from typing import Protocol

from core.errors import AuthenticationError, IntegrationError
from pipelines.audit import AuditLog
from pipelines.vault import CredentialVault
from sources.common.oauth import OAuthClient
from sources.common.tokens import TokenSet

log = logging.getLogger(__name__)

OAUTH_TOKEN = "oauth_token"
# Vault kind of a pasted token when the provider names none (`AuthSpec.static_token_field`).
STATIC_TOKEN = "static_token"


class AccessTokenProvider(Protocol):
    def access_token(self) -> str: ...

    def force_refresh(self) -> str: ...


class StaticTokenProvider:
    """A token that never changes (a private-app token, a personal access token)."""

    def __init__(
        self,
        token: str,
        *,
        integration_id: str | None = None,
        provider: str | None = None,
        label: str = "static token",
    ) -> None:
        self._token = token
        self._integration_id = integration_id
        self._provider = provider
        self._label = label

    def __repr__(self) -> str:
        return f"StaticTokenProvider(integration_id={self._integration_id!r})"

    def access_token(self) -> str:
        return self._token

    def force_refresh(self) -> str:
        raise AuthenticationError(
            f"{self._label} rejected",
            provider=self._provider,
            integration_id=self._integration_id,
            hint="the token was revoked or lacks scopes; set a new one with integrations set-token",
        )


class OAuthTokenProvider:
    """OAuth access token of one integration, cached in memory and refreshed before expiry."""

    def __init__(
        self,
        integration_id: str,
        vault: CredentialVault,
        oauth: OAuthClient,
        audit: AuditLog,
        skew_seconds: float = 300,
    ) -> None:
        self.integration_id = integration_id
        self.provider = oauth.provider
        self._vault = vault
        self._oauth = oauth
        self._audit = audit
        self._skew = skew_seconds
        self._cached: TokenSet | None = None

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(integration_id={self.integration_id!r})"

    def access_token(self) -> str:
        if self._cached is None or self._cached.expires_within(self._skew):
            stored = self._stored()
            if stored.expires_within(self._skew):
                stored = self._refresh(force=False, seen=None)
            self._cached = stored
        return self._cached.access_token.get_secret_value()

    def force_refresh(self) -> str:
        """A token newer than the one in hand: another process's, or a freshly refreshed one."""
        seen = self._cached.access_token.get_secret_value() if self._cached else None
        self._cached = self._refresh(force=True, seen=seen)
        return self._cached.access_token.get_secret_value()

    def _stored(self) -> TokenSet:
        value = self._vault.get(self.integration_id, OAUTH_TOKEN)
        if value is None:
            raise AuthenticationError(
                "no OAuth token stored for this integration",
                provider=self.provider,
                integration_id=self.integration_id,
                hint="authorize it first (integrations auth-url, then callback)",
            )
        return TokenSet.from_vault(value)

    def _refresh(self, *, force: bool, seen: str | None) -> TokenSet:
        try:
            with self._vault.refresh_lock(self.integration_id):
                current = self._stored()
                fresh_enough = not current.expires_within(self._skew)
                if fresh_enough and (not force or _newer_than(current, seen)):
                    return current  # another process refreshed while we waited
                if current.refresh_token is None:
                    raise AuthenticationError(
                        "the stored OAuth token has no refresh token",
                        provider=self.provider,
                        integration_id=self.integration_id,
                        hint="authorize the integration again",
                    )
                new = self._oauth.refresh(current.refresh_token.get_secret_value())
                self._vault.put(self.integration_id, OAUTH_TOKEN, new.to_vault())
                self._audit.record(
                    "credentials.refreshed",
                    actor="token-refresh",
                    integration_id=self.integration_id,
                    details={"forced": force, "expires_at": new.expires_at},
                )
        except IntegrationError as exc:
            exc.integration_id = exc.integration_id or self.integration_id
            self._audit.record(
                "credentials.refresh_failed",
                actor="token-refresh",
                integration_id=self.integration_id,
                details={"error": type(exc).__name__, "forced": force},
            )
            raise
        log.info("refreshed OAuth token for integration %s", self.integration_id)
        return new


def _newer_than(current: TokenSet, seen: str | None) -> bool:
    """True when the vault holds another token than the one the caller was refused with."""
    return seen is not None and current.access_token.get_secret_value() != seen
