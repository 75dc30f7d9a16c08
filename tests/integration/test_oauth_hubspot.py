"""The generic OAuth client on HubSpot's endpoints against a local token endpoint: URL shape, PKCE, exchange, refresh, errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from core.clock import clock
from core.errors import AuthenticationError, MalformedResponseError, ProviderError
from sources.common.oauth import pkce_pair
from sources.hubspot.auth import DEFAULT_SCOPES
from tests.control_support import FakeTokenEndpoint, hubspot_oauth

# RFC 7636 appendix B, as recorded in the shared vectors (tests/shared_vectors.py).
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT = "http://localhost:8000/oauth/callback"


@pytest.fixture
def endpoint():
    with FakeTokenEndpoint() as fake:
        yield fake


@pytest.fixture
def oauth(endpoint):
    return hubspot_oauth(
        "client-id",
        "client-secret",
        api_base=endpoint.base_url,
        auth_base="https://app.hubspot.com",
        sleep=lambda _s: None,
    )


@pytest.fixture
def frozen_clock():
    clock.freeze(1_800_000_000.0)
    yield clock
    clock.reset()


def test_pkce_matches_the_rfc7636_vector():
    assert create_s256_code_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    oauth = hubspot_oauth("id", "secret", "https://api.hubapi.com", "https://app.hubspot.com")
    url = oauth.authorization_url(REDIRECT, ["crm.objects.contacts.read"], "st", RFC7636_VERIFIER)
    assert parse_qs(urlsplit(url).query)["code_challenge"] == [RFC7636_CHALLENGE]


def test_pkce_pair_is_fresh_and_valid():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert create_s256_code_challenge(verifier) == challenge
    assert pkce_pair()[0] != verifier


def test_authorization_url_shape(oauth):
    url = oauth.authorization_url(
        REDIRECT, DEFAULT_SCOPES, "the-state", RFC7636_VERIFIER, optional_scopes=["tickets"]
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.hubspot.com/oauth/authorize"
    )
    query = parse_qs(parts.query)
    assert query == {
        "client_id": ["client-id"],
        "redirect_uri": [REDIRECT],
        "scope": [" ".join(DEFAULT_SCOPES)],
        "optional_scope": ["tickets"],
        "state": ["the-state"],
        "code_challenge": [RFC7636_CHALLENGE],
        "code_challenge_method": ["S256"],
    }


def test_exchange_code_posts_the_form_and_returns_a_token_set(oauth, endpoint, frozen_clock):
    endpoint.expect_code("code-1", RFC7636_VERIFIER)
    tokens = oauth.exchange_code("code-1", REDIRECT, RFC7636_VERIFIER)
    assert tokens.access_token.get_secret_value().startswith("access-")
    assert tokens.refresh_token.get_secret_value().startswith("refresh-")
    assert tokens.expires_at == 1_800_000_000.0 + 1800
    assert (tokens.hub_id, tokens.scopes, tokens.token_type) == (
        62515,
        ["crm.objects.contacts.read"],
        "bearer",
    )
    assert endpoint.requests[-1] == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": REDIRECT,
        "code_verifier": RFC7636_VERIFIER,
        "client_id": "client-id",
        "client_secret": "client-secret",
    }
    assert "access-" not in repr(tokens)


def test_bad_auth_code_is_a_clear_authentication_error(oauth, endpoint):
    with pytest.raises(AuthenticationError) as err:
        oauth.exchange_code("never-issued-code", REDIRECT, RFC7636_VERIFIER)
    assert err.value.provider == "hubspot"
    assert err.value.status_code == 400
    assert "BAD_AUTH_CODE" in str(err.value)
    assert "start the OAuth flow again" in err.value.hint
    assert "never-issued-code" not in str(err.value)


def test_wrong_client_secret_points_at_the_setting(endpoint):
    oauth = hubspot_oauth("client-id", "wrong-secret-value", endpoint.base_url, endpoint.base_url)
    with pytest.raises(AuthenticationError, match="BAD_CLIENT_SECRET") as err:
        oauth.refresh(endpoint.issue_refresh_token())
    assert "HUBSPOT_CLIENT_SECRET" in err.value.hint
    assert "wrong-secret-value" not in str(err.value)


def test_refresh_rotates_and_the_old_refresh_token_is_then_refused(oauth, endpoint):
    first = endpoint.issue_refresh_token()
    tokens = oauth.refresh(first)
    assert tokens.refresh_token.get_secret_value() != first
    with pytest.raises(AuthenticationError, match="BAD_REFRESH_TOKEN") as err:
        oauth.refresh(first)
    assert "authorize the integration again" in err.value.hint


def test_server_errors_are_retried_then_succeed(oauth, endpoint):
    endpoint.fail_next = [500, 503]
    assert oauth.refresh(endpoint.issue_refresh_token()).access_token
    assert len(endpoint.requests) == 3


def test_persistent_server_errors_become_a_provider_error(oauth, endpoint):
    endpoint.fail_next = [502, 502, 502]
    with pytest.raises(ProviderError, match="after 3 attempts"):
        oauth.refresh(endpoint.issue_refresh_token())


def test_timeouts_are_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(
            200, json={"access_token": "a", "refresh_token": "r", "expires_in": 1800}
        )

    oauth = hubspot_oauth(
        "id",
        "secret",
        "https://api.test",
        "https://app.test",
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
    )
    assert oauth.refresh("r").access_token.get_secret_value() == "a"
    assert len(calls) == 3
    assert str(calls[0].url) == "https://api.test/oauth/v1/token"


def test_a_2xx_without_an_access_token_is_malformed():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    oauth = hubspot_oauth(
        "id",
        "secret",
        "https://api.test",
        "https://app.test",
        transport=transport,
    )
    with pytest.raises(MalformedResponseError):
        oauth.exchange_code("c", REDIRECT, RFC7636_VERIFIER)


def test_repr_hides_the_client_secret():
    assert "very-secret" not in repr(hubspot_oauth("id", "very-secret", "https://a", "https://b"))
