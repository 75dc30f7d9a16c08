"""The one OAuth 2.0 client: authorize URL with PKCE (S256), code exchange, token refresh.

Driven by a provider's `OAuthEndpoints` (URLs, default scopes, error hints, extra token fields),
so no provider writes its own. PKCE and state tokens come from authlib; token requests go
through the one HTTP client (`sources/common/http.py`) and its `RetryPolicy` (5xx, timeouts,
resets and 429s retried there, not in a loop of our own). It returns `TokenSet`s; storing them
is the vault's job. It must never log, or put into an error, a code, token or secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import SecretStr

from core.clock import clock
from core.errors import (
    AuthenticationError,
    IntegrationError,
    MalformedResponseError,
    ProviderError,
    ValidationError,
)
from sources.common.http import ApiClient, RetryPolicy, json_object
from sources.common.tokens import TokenSet
from sources.provider import OAuthEndpoints

# Token endpoints are few and slow to recover: three attempts, short backoff, bounded pacing.
TOKEN_RETRY = RetryPolicy(
    max_attempts=3, backoff_base=0.5, backoff_max=2.0, rate_limit_max_wait_s=30.0
)
TIMEOUT_S = 10.0
DEFAULT_HINT = "check the app's client id/secret and re-authorize"


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


class OAuthClient:
    """Client of one provider's OAuth endpoints for one app (client id + secret)."""

    def __init__(
        self,
        endpoints: OAuthEndpoints,
        client_id: str,
        client_secret: str,
        *,
        provider: str,
        title: str | None = None,
        integration_id: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        check_url: Callable[[str, str], None] | None = None,
    ) -> None:
        self.endpoints = endpoints
        # Raises for a token-response URL (`endpoints.url_fields`) the host policy refuses.
        self._check_url = check_url
        self.client_id = client_id
        self.provider = provider
        self.title = title or provider
        self.integration_id = integration_id
        self._client_secret = SecretStr(client_secret)
        self._retry = retry or TOKEN_RETRY
        self._timeout = timeout
        self._transport = transport
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"OAuthClient(provider={self.provider!r}, client_id={self.client_id!r})"

    @property
    def token_url(self) -> str:
        return self.endpoints.token_url

    def authorization_url(
        self,
        redirect_uri: str,
        scopes: Iterable[str],
        state: str,
        code_verifier: str,
        optional_scopes: Iterable[str] = (),
    ) -> str:
        separator = self.endpoints.scope_separator
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": separator.join(scopes),
        }
        optional = separator.join(optional_scopes)
        if optional:
            params["optional_scope"] = optional
        params |= {
            "state": state,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
        joiner = "&" if "?" in self.endpoints.authorize_url else "?"
        return f"{self.endpoints.authorize_url}{joiner}{urlencode(params)}"

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            what="authorization code",
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        token_set = self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            what="refresh token",
        )
        if token_set.refresh_token is None:  # not rotated: the one we hold stays valid
            token_set = token_set.model_copy(update={"refresh_token": SecretStr(refresh_token)})
        return token_set

    def _token_request(self, form: dict[str, str], *, what: str) -> TokenSet:
        form = form | {
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        parts = urlsplit(self.endpoints.token_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # One short-lived client per token request: its refusal hook knows what to redact.
        with ApiClient(
            f"{parts.scheme}://{parts.netloc}",
            provider=self.provider,
            integration_id=self.integration_id,
            headers={"Accept": "application/json"},
            error_for=self._refusal_hook(what, form.values()),
            retry=self._retry,
            timeout=self._timeout,
            transport=self._transport,
            sleep=self._sleep,
        ) as api:
            body = api.request_json("POST", path, kind="oauth_token", data=form)
        return self._token_set(body)

    def _refusal_hook(
        self, what: str, secrets: Iterable[str]
    ) -> Callable[[httpx.Response], IntegrationError]:
        sent = [s for s in secrets if s and len(s) >= 6]

        def refusal(response: httpx.Response) -> IntegrationError:
            status_code = response.status_code
            if status_code >= 500 or status_code == 429:
                return ProviderError(
                    f"{self.title} token endpoint failed after {self._retry.max_attempts} "
                    f"attempts (HTTP {status_code})",
                    provider=self.provider,
                    integration_id=self.integration_id,
                    hint=f"{self.title} may be down or unreachable; retry later",
                    status_code=status_code,
                )
            return self._rejection(response, what, sent)

        return refusal

    def _rejection(
        self, response: httpx.Response, what: str, secrets: list[str]
    ) -> AuthenticationError:
        body = json_object(response)
        status = str(body.get("status") or body.get("error") or f"HTTP {response.status_code}")
        message = str(body.get("message") or body.get("error_description") or "")[:300]
        for secret in secrets:  # the provider may echo what we sent; never carry it onward
            message = message.replace(secret, "[redacted]")
            status = status.replace(secret, "[redacted]")
        text = f"{self.title} rejected the {what}: {status[:100]}"
        if message:
            text += f" ({message})"
        return AuthenticationError(
            text,
            provider=self.provider,
            integration_id=self.integration_id,
            hint=self.endpoints.error_hints.get(status, DEFAULT_HINT),
            status_code=response.status_code,
        )

    def _token_set(self, body: Any) -> TokenSet:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise MalformedResponseError(
                f"{self.title} token response has no access_token",
                provider=self.provider,
                integration_id=self.integration_id,
            )
        expires_in = body.get("expires_in")
        scopes = body.get("scopes")
        if scopes is None and isinstance(body.get("scope"), str):
            scopes = body["scope"].replace(",", " ").split()
        for name in self.endpoints.url_fields:
            if body.get(name) is not None:
                if self._check_url is None:
                    raise ValidationError(
                        f"{self.title} token response names a {name}, and no host policy is "
                        "set to check it",
                        provider=self.provider,
                        integration_id=self.integration_id,
                    )
                self._check_url(name, body[name])
        try:
            expires_at = clock.time() + float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            expires_at = None
        return TokenSet(
            access_token=SecretStr(body["access_token"]),
            refresh_token=SecretStr(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_at=expires_at,
            token_type=str(body.get("token_type") or "bearer").lower(),
            scopes=list(scopes or []),
            extra={
                name: body[name]
                for name in self.endpoints.extra_token_fields
                if body.get(name) is not None
            },
        )
