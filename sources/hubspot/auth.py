"""HubSpot OAuth 2.0: the authorize URL (with PKCE), the code exchange and the token refresh.

Speaks only to HubSpot's OAuth endpoints (providers.md §1.2) and returns `TokenSet`s; storing
them is the vault's job. It must never log, or put into an error, a code, token or secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import SecretStr

from core.clock import clock
from core.errors import AuthenticationError, MalformedResponseError, ProviderError
from sources.common.tokens import TokenSet

log = logging.getLogger(__name__)

PROVIDER = "hubspot"
TOKEN_PATH = "/oauth/v1/token"
AUTHORIZE_PATH = "/oauth/authorize"
DEFAULT_SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
]
# What a data engineer should do about each documented token-endpoint error status.
ERROR_HINTS = {
    "BAD_REFRESH_TOKEN": "the refresh token was revoked or the app uninstalled; "
    "authorize the integration again (integrations auth-url)",
    "BAD_AUTH_CODE": "the authorization code is invalid, expired or already used; "
    "start the OAuth flow again",
    "BAD_CLIENT_ID": "check HUBSPOT_CLIENT_ID (or the integration's client_id)",
    "BAD_CLIENT_SECRET": "check HUBSPOT_CLIENT_SECRET (or the integration's client_secret)",
    "BAD_REDIRECT_URI": "redirect_uri must equal the one used for the authorize URL and "
    "registered in the HubSpot app",
    "BAD_GRANT_TYPE": "the platform sent an unsupported grant_type; this is a bug",
}
RETRIES = 2
TIMEOUT_S = 10.0


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


class HubSpotOAuth:
    """Client of HubSpot's OAuth endpoints for one app (client id + secret)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        api_base: str,
        auth_base: str,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client_id = client_id
        self._client_secret = SecretStr(client_secret)
        self.api_base = api_base.rstrip("/")
        self.auth_base = auth_base.rstrip("/")
        self._http = http or httpx.Client(timeout=TIMEOUT_S)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"HubSpotOAuth(client_id={self.client_id!r}, api_base={self.api_base!r})"

    def authorization_url(
        self,
        redirect_uri: str,
        scopes: list[str],
        state: str,
        code_verifier: str,
        optional_scopes: Iterable[str] = (),
    ) -> str:
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
        }
        optional = " ".join(optional_scopes)
        if optional:
            params["optional_scope"] = optional
        params |= {
            "state": state,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.auth_base}{AUTHORIZE_PATH}?{urlencode(params)}"

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
        if token_set.refresh_token is None:  # HubSpot may keep the refresh token unchanged
            token_set = token_set.model_copy(update={"refresh_token": SecretStr(refresh_token)})
        return token_set

    def _token_request(self, form: dict[str, str], *, what: str) -> TokenSet:
        form = form | {
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        url = self.api_base + TOKEN_PATH
        last_problem = ""
        for attempt in range(RETRIES + 1):
            if attempt:
                self._sleep(0.5 * 2 ** (attempt - 1))
            try:
                response = self._http.post(url, data=form, headers={"Accept": "application/json"})
            except httpx.TransportError as exc:  # timeouts, refused connections
                last_problem = type(exc).__name__
                log.warning(
                    "hubspot token endpoint unreachable (%s), attempt %d", last_problem, attempt + 1
                )
                continue
            if response.status_code >= 500:
                last_problem = f"HTTP {response.status_code}"
                log.warning(
                    "hubspot token endpoint answered %s, attempt %d", last_problem, attempt + 1
                )
                continue
            if response.status_code >= 400:
                raise _rejection(response, what, secrets=form.values())
            return _token_set(response)
        raise ProviderError(
            f"HubSpot token endpoint failed after {RETRIES + 1} attempts ({last_problem})",
            provider=PROVIDER,
            hint="HubSpot may be down or unreachable; retry later",
        )


def _token_set(response: httpx.Response) -> TokenSet:
    try:
        body: dict[str, Any] = response.json()
        access_token = body["access_token"]
    except (ValueError, KeyError, TypeError):
        raise MalformedResponseError(
            "HubSpot token response has no access_token", provider=PROVIDER
        ) from None
    expires_in = body.get("expires_in")
    scopes = body.get("scopes")
    if scopes is None and isinstance(body.get("scope"), str):
        scopes = body["scope"].split()
    return TokenSet(
        access_token=SecretStr(access_token),
        refresh_token=SecretStr(body["refresh_token"]) if body.get("refresh_token") else None,
        expires_at=clock.time() + float(expires_in) if expires_in is not None else None,
        token_type=str(body.get("token_type") or "bearer").lower(),
        scopes=list(scopes or []),
        hub_id=body.get("hub_id"),
    )


def _rejection(response: httpx.Response, what: str, secrets: Iterable[str]) -> AuthenticationError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    status = str(body.get("status") or body.get("error") or f"HTTP {response.status_code}")
    message = str(body.get("message") or body.get("error_description") or "")[:300]
    for secret in secrets:  # the provider may echo what we sent; never carry it onward
        if secret and len(secret) >= 6:
            message = message.replace(secret, "[redacted]")
    text = f"HubSpot rejected the {what}: {status}"
    if message:
        text += f" ({message})"
    return AuthenticationError(
        text,
        provider=PROVIDER,
        hint=ERROR_HINTS.get(status, "check the app's client id/secret and re-authorize"),
        status_code=response.status_code,
    )
