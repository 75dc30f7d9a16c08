"""The seed's flow through real OAuth against the sandbox: authorize, callback, sync, and an
access token that expires mid-life is refreshed and the sync continues."""

from __future__ import annotations

import httpx

from core.clock import clock
from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import Platform

REDIRECT = "http://127.0.0.1:9/oauth/hubspot/callback"


def connect_with_oauth(settings, sandbox) -> Platform:
    registry = IntegrationRegistry.from_settings(settings)
    registry.create(
        organization_id="org",
        user_id="user",
        type="hubspot",
        name="oauth portal",
        config={"api_base": sandbox.base_url, "auth_base": sandbox.base_url},
        integration_id="oauth-itest",
        actor="test",
    )
    url = registry.authorization_url("oauth-itest", REDIRECT, actor="test")
    assert "code_challenge_method=S256" in url
    redirected = httpx.get(url, follow_redirects=False).headers["location"]
    integration = registry.complete_callback_url(redirected, actor="test")
    assert integration.status == "active"
    return Platform(settings, registry, sandbox, integration_id="oauth-itest")


def oauth_settings(settings):
    return settings.model_copy(
        update={
            "HUBSPOT_CLIENT_ID": "sandbox-client-id",
            "HUBSPOT_CLIENT_SECRET": __import__("pydantic").SecretStr("sandbox-client-secret"),
        }
    )


def test_oauth_connect_then_full_sync(settings, sandbox):
    platform = connect_with_oauth(oauth_settings(settings), sandbox)

    result = platform.sync(full_refresh=True, entities=["companies"])

    assert result.rows_loaded["companies"] == 250
    auth_kinds = {r.get("auth") for r in sandbox.requests() if "/crm/" in r.get("path", "")}
    assert auth_kinds == {"oauth"}


def test_expired_access_token_is_refreshed_and_the_sync_continues(settings, sandbox):
    platform = connect_with_oauth(oauth_settings(settings), sandbox)
    platform.sync(full_refresh=True, entities=["contacts"])
    sandbox.mutate("contacts", 20)
    # The provider's clock moves past the token's life while ours does not: the sync meets a
    # 401 EXPIRED_AUTHENTICATION mid-run, refreshes once and carries on.
    sandbox.admin("POST", "clock", json={"advance_ms": 2 * 3600 * 1000})

    result = platform.sync(entities=["contacts"])

    assert result.status == "success"
    assert result.reports["contacts"].rows == 20
    statuses = [r["status"] for r in sandbox.requests()]
    assert 401 in statuses
    assert platform.diff("contacts").equal


def test_token_refresh_before_expiry_uses_our_clock(settings, sandbox):
    platform = connect_with_oauth(oauth_settings(settings), sandbox)
    provider = platform.registry.token_provider("oauth-itest")
    first = provider.access_token()
    clock.freeze(clock.time() + 1700)  # within the refresh skew of a 1800 s token
    try:
        second = provider.access_token()
    finally:
        clock.reset()
    assert first != second
