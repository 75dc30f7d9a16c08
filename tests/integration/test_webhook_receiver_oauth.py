"""The seed's OAuth flow over the integrations API against the HubSpot sandbox's real OAuth
server: create, authorization URL, consent redirect, callback, active integration."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from pydantic import SecretStr

from tests.webhook_receiver_support import API_KEY, build_receiver

AUTH = {"X-API-Key": API_KEY}
REDIRECT = "http://127.0.0.1:9/api/v1/oauth/callback"


def oauth_receiver(settings):
    return build_receiver(
        settings,
        API_KEYS=SecretStr(API_KEY),
        HUBSPOT_CLIENT_ID="sandbox-client-id",
        HUBSPOT_CLIENT_SECRET=SecretStr("sandbox-client-secret"),
    )


def test_connect_a_hubspot_portal_through_the_api(settings, sandbox):
    rx = oauth_receiver(settings)
    created = rx.client.post(
        "/api/v1/integrations",
        json={
            "type": "hubspot",
            "name": "Sandbox portal",
            "organization_id": "acme",
            "id": "portal",
            "config": {"api_base": sandbox.base_url, "auth_base": sandbox.base_url},
        },
        headers=AUTH,
    )
    assert created.status_code == 201

    issued = rx.client.get(
        f"/api/v1/integrations/portal/authorize-url?{urlencode({'redirect_uri': REDIRECT})}",
        headers=AUTH,
    ).get_json()
    assert issued["authorization_url"].startswith(sandbox.base_url)
    # the user consents; the sandbox's authorize endpoint redirects the browser back to us
    consent = httpx.get(issued["authorization_url"], follow_redirects=False)
    assert consent.status_code in (302, 303)
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = {k: v[0] for k, v in parse_qs(back.query).items()}

    callback = rx.client.get(f"/api/v1/oauth/callback?{urlencode(query)}")

    assert callback.status_code == 200, callback.get_data(as_text=True)
    body = callback.get_json()
    assert body["status"] == "active"
    assert "oauth_token" in body["stored_secrets"]
    text = callback.get_data(as_text=True)
    assert "access_token" not in text and "refresh_token" not in text
    # the registry really holds a working token
    token = rx.registry.token_provider("portal").access_token()
    assert (
        httpx.get(
            f"{sandbox.base_url}/crm/v3/objects/contacts?limit=1",
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 200
    )
    # a state works once
    again = rx.client.get(f"/api/v1/oauth/callback?{urlencode(query)}")
    assert again.status_code == 400
    assert again.get_json()["error"]["code"] == "oauth_failed"


def test_a_declined_consent_is_a_clear_400_and_the_integration_stays_pending(settings, sandbox):
    rx = oauth_receiver(settings)
    rx.client.post(
        "/api/v1/integrations",
        json={
            "type": "hubspot",
            "name": "Sandbox portal",
            "organization_id": "acme",
            "id": "portal",
            "config": {"api_base": sandbox.base_url, "auth_base": sandbox.base_url},
        },
        headers=AUTH,
    )
    issued = rx.client.get(
        f"/api/v1/integrations/portal/authorize-url?{urlencode({'redirect_uri': REDIRECT})}",
        headers=AUTH,
    ).get_json()
    state = parse_qs(urlsplit(issued["authorization_url"]).query)["state"][0]

    declined = rx.client.get(f"/api/v1/oauth/callback?state={state}&error=access_denied")

    assert declined.status_code == 400
    assert "access_denied" in declined.get_json()["error"]["message"]
    assert rx.client.get("/api/v1/integrations/portal", headers=AUTH).get_json()["status"] == (
        "pending_auth"
    )
