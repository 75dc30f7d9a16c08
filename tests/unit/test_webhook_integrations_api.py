"""The integrations API: API keys, per-key rate limit, create/list/get/delete, the authorization
URL, and no secret ever in an answer."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from tests.webhook_receiver_support import API_KEY, build_receiver, github_delivery

BASE = "/api/v1/integrations"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def rx(settings):
    return build_receiver(settings, API_KEYS=SecretStr(f"*:other-key,*:{API_KEY}"))


def create(rx, **body):
    payload = {"type": "github", "name": "Acme repos", "organization_id": "acme", **body}
    return rx.client.post(BASE, json=payload, headers=AUTH)


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def test_no_api_keys_configured_disables_the_api(settings):
    rx = build_receiver(settings)
    response = rx.client.get(BASE, headers=AUTH)
    assert response.status_code == 503
    assert error_code(response) == "api_disabled"
    assert "API_KEYS" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}, {"Authorization": API_KEY}],
    ids=["none", "wrong-bearer", "wrong-x-api-key", "no-bearer-scheme"],
)
def test_a_missing_or_unknown_key_is_401(rx, headers):
    response = rx.client.get(BASE, headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_both_header_forms_are_accepted(rx):
    assert rx.client.get(BASE, headers=AUTH).status_code == 200
    assert rx.client.get(BASE, headers={"X-API-Key": "other-key"}).status_code == 200


def test_each_key_is_rate_limited_on_its_own(settings):
    rx = build_receiver(
        settings, API_KEYS=SecretStr(f"*:k2,*:{API_KEY}"), API_RATE_LIMIT_PER_MINUTE=3
    )
    statuses = [rx.client.get(BASE, headers=AUTH).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    limited = rx.client.get(BASE, headers=AUTH)
    assert error_code(limited) == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert rx.client.get(BASE, headers={"X-API-Key": "k2"}).status_code == 200


def test_create_vaults_secrets_and_never_returns_them(rx):
    response = create(
        rx,
        id="acme-gh",
        config={"webhook_secret": "s3cr3t-value", "api_key": "ghp_tokenvalue", "org": "acme"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] == "acme-gh"
    assert body["type"] == "github"
    assert body["status"] == "pending_auth"
    assert body["config"] == {"org": "acme"}
    assert body["stored_secrets"] == ["api_key", "webhook_secret"]
    assert body["webhook_url"] == "http://127.0.0.1:8000/api/v1/webhooks/github/acme-gh"
    assert body["user_id"].startswith("api-key:")
    for answer in (
        response,
        rx.client.get(f"{BASE}/acme-gh", headers=AUTH),
        rx.client.get(BASE, headers=AUTH),
    ):
        text = answer.get_data(as_text=True)
        assert "s3cr3t-value" not in text and "ghp_tokenvalue" not in text
    audit = json.dumps([e.model_dump(mode="json") for e in rx.registry.audit.list("acme-gh")])
    assert "integration.created" in audit
    assert body["user_id"] in audit  # the actor is the key's fingerprint ...
    assert API_KEY not in audit and "s3cr3t-value" not in audit  # ... never the key or a secret


@pytest.mark.parametrize("kind", ["hubspot", "salesforce", "wordpress", "github"])
def test_every_provider_type_can_be_created_and_receives_webhooks(rx, kind):
    response = create(rx, type=kind, id=f"{kind}-1", config={"webhook_secret": "k"})
    assert response.status_code == 201
    assert response.get_json()["webhook_url"].endswith(f"/api/v1/webhooks/{kind}/{kind}-1")


def test_a_created_github_integration_accepts_its_webhooks_at_once(rx):
    assert (
        rx.client.post(
            "/api/v1/webhooks/github/new-gh",
            data=b"{}",
            headers={"Content-Type": "application/json"},
        ).status_code
        == 404
    )  # unknown (and now negatively cached)
    create(rx, id="new-gh", config={"webhook_secret": "k"})

    delivery = github_delivery("new-gh", "push", {"after": "a"}, secret="k")
    assert rx.send(delivery).status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"type": "github", "name": "x"}, 400, "validation_error"),
        ({"type": "stripe", "name": "x", "organization_id": "o"}, 400, "validation_error"),
        ({"type": "github", "name": "x", "organization_id": "o", "id": "bad id!"}, 400, "validation_error"),
        ({"type": "github", "name": "x", "organization_id": "o", "colour": "red"}, 400, "validation_error"),
        ({"type": "github", "name": "x", "organization_id": "o", "config": []}, 400, "validation_error"),
        ([1, 2], 400, "validation_error"),
    ],
    ids=["no-org", "unknown-type", "bad-id", "unknown-field", "config-not-object", "not-object"],
)  # fmt: skip
def test_invalid_creates_are_400(rx, body, status, code):
    response = rx.client.post(BASE, json=body, headers=AUTH)
    assert response.status_code == status
    assert error_code(response) == code
    assert rx.registry.list() == []


def test_create_needs_json(rx):
    response = rx.client.post(
        BASE, data="type=github", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    broken = rx.client.post(BASE, data="{", headers={**AUTH, "Content-Type": "application/json"})
    assert broken.status_code == 400 and error_code(broken) == "malformed_json"


def test_an_existing_id_is_409(rx):
    assert create(rx, id="dup").status_code == 201
    response = create(rx, id="dup")
    assert response.status_code == 409
    assert error_code(response) == "conflict"


def test_list_get_and_delete(rx):
    create(rx, id="a", organization_id="acme")
    create(rx, id="b", organization_id="globex")

    listed = rx.client.get(BASE, headers=AUTH).get_json()["integrations"]
    assert [i["id"] for i in listed] == ["a", "b"]
    only = rx.client.get(f"{BASE}?organization_id=globex", headers=AUTH).get_json()
    assert [i["id"] for i in only["integrations"]] == ["b"]
    assert rx.client.get(f"{BASE}/a", headers=AUTH).get_json()["organization_id"] == "acme"

    assert rx.client.delete(f"{BASE}/a", headers=AUTH).status_code == 204
    missing = rx.client.get(f"{BASE}/a", headers=AUTH)
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    assert rx.client.delete(f"{BASE}/a", headers=AUTH).status_code == 404


def test_deleting_stops_webhooks_in_this_process_at_once(rx):
    create(rx, id="gone", config={"webhook_secret": "k"})
    assert (
        rx.send(github_delivery("gone", "push", {"after": "1"}, "d1", secret="k")).status_code
        == 202
    )

    rx.client.delete(f"{BASE}/gone", headers=AUTH)

    assert (
        rx.send(github_delivery("gone", "push", {"after": "2"}, "d2", secret="k")).status_code
        == 404
    )


def test_authorization_url_for_hubspot_and_a_clear_400_for_others(settings):
    rx = build_receiver(
        settings,
        API_KEYS=SecretStr(API_KEY),
        HUBSPOT_CLIENT_ID="client-id",
        HUBSPOT_CLIENT_SECRET=SecretStr("client-secret"),
        WEBHOOK_BASE_URL="https://platform.example.com",
    )
    create(rx, type="hubspot", id="hs")
    create(rx, type="github", id="gh")

    response = rx.client.get(f"{BASE}/hs/authorize-url", headers=AUTH)

    assert response.status_code == 200
    body = response.get_json()
    assert body["redirect_uri"] == "https://platform.example.com/api/v1/oauth/callback"
    assert body["expires_in"] == 600
    assert body["authorization_url"].startswith("https://app.hubspot.com/oauth/authorize?")
    assert "code_challenge_method=S256" in body["authorization_url"]
    assert "client-secret" not in response.get_data(as_text=True)
    other = rx.client.get(
        f"{BASE}/gh/authorize-url?redirect_uri=https://x.example/cb", headers=AUTH
    )
    assert other.status_code == 400 and error_code(other) == "validation_error"
    assert rx.client.get(f"{BASE}/nope/authorize-url", headers=AUTH).status_code == 404


def test_the_callback_needs_no_api_key_but_a_valid_state(rx):
    missing = rx.client.get("/api/v1/oauth/callback?code=abc")
    assert missing.status_code == 400 and error_code(missing) == "oauth_failed"
    unknown = rx.client.get("/api/v1/oauth/callback?code=abc&state=never-issued")
    assert unknown.status_code == 400 and error_code(unknown) == "oauth_failed"
