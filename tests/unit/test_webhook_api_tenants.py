"""Tenant isolation of the integrations API: a key bound to an organisation (`API_KEYS=ORG:KEY`)
sees and changes only that organisation's integrations; admin keys (`*:KEY`, or a bare legacy
key) see every one; an anonymous caller gets the same 401 whether an id exists or not."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from tests.webhook_receiver_support import build_receiver
from webhook_receiver.api_keys import ApiKeyGrant, parse_api_keys

BASE = "/api/v1/integrations"
ACME = {"Authorization": "Bearer acme-key"}
GLOBEX = {"X-API-Key": "globex-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
LEGACY = {"Authorization": "Bearer legacy-key"}


@pytest.fixture
def rx(settings):
    rx = build_receiver(
        settings,
        API_KEYS=SecretStr("acme:acme-key, globex:globex-key, *:admin-key, legacy-key"),
        HUBSPOT_CLIENT_ID="client-id",
        HUBSPOT_CLIENT_SECRET=SecretStr("client-secret"),
    )
    for org, integration_id in (("acme", "acme-hs"), ("globex", "globex-hs")):
        rx.registry.create(
            organization_id=org,
            user_id="u",
            type="hubspot",
            name=f"{org} CRM",
            config={},
            integration_id=integration_id,
            actor="test",
        )
    return rx


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [i["id"] for i in response.get_json()["integrations"]]


def test_api_keys_entries_parse_to_scopes():
    assert parse_api_keys(["acme:k1", "*:k2", "k3", "globex:k:with:colons"]) == [
        ApiKeyGrant("k1", "acme"),
        ApiKeyGrant("k2", None),
        ApiKeyGrant("k3", None),
        ApiKeyGrant("k:with:colons", "globex"),
    ]


@pytest.mark.parametrize("entry", [":k", "acme:", " : "])
def test_a_malformed_entry_fails_start_up(entry):
    with pytest.raises(ValueError, match="ORG:KEY"):
        parse_api_keys([entry])


def test_bare_legacy_keys_are_admin_and_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="webhook_receiver.api_keys"):
        parse_api_keys(["legacy", "acme:k"])
    assert "1 key(s) without an organisation" in caplog.text
    assert "legacy" not in caplog.text  # the key itself is never logged


def test_a_bound_key_lists_only_its_organisation(rx):
    assert ids(rx.client.get(BASE, headers=ACME)) == ["acme-hs"]
    assert ids(rx.client.get(BASE, headers=GLOBEX)) == ["globex-hs"]
    assert ids(rx.client.get(f"{BASE}?organization_id=acme", headers=ACME)) == ["acme-hs"]


def test_a_bound_key_cannot_list_another_organisation(rx):
    response = rx.client.get(f"{BASE}?organization_id=globex", headers=ACME)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "globex-hs" not in response.get_data(as_text=True)


@pytest.mark.parametrize("headers", [ADMIN, LEGACY], ids=["admin", "legacy-bare-key"])
def test_admin_keys_see_every_organisation(rx, headers):
    assert ids(rx.client.get(BASE, headers=headers)) == ["acme-hs", "globex-hs"]
    assert ids(rx.client.get(f"{BASE}?organization_id=globex", headers=headers)) == ["globex-hs"]
    assert rx.client.get(f"{BASE}/globex-hs", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("delete", ""), ("get", "/authorize-url")],
    ids=["get", "delete", "authorize-url"],
)
def test_another_organisations_integration_answers_as_a_missing_one(rx, method, suffix):
    foreign = getattr(rx.client, method)(f"{BASE}/globex-hs{suffix}", headers=ACME)
    missing = getattr(rx.client, method)(f"{BASE}/no-such-id{suffix}", headers=ACME)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json()["error"]["code"] == "not_found"
    assert foreign.get_json()["error"]["message"] == (
        missing.get_json()["error"]["message"].replace("no-such-id", "globex-hs")
    )
    assert rx.registry.get("globex-hs").organization_id == "globex"  # nothing deleted
    assert rx.registry.audit.list("globex-hs")[-1].action == "integration.created"


def test_a_bound_key_acts_on_its_own_integrations(rx):
    assert rx.client.get(f"{BASE}/acme-hs", headers=ACME).status_code == 200
    url = rx.client.get(f"{BASE}/acme-hs/authorize-url", headers=ACME)
    assert url.status_code == 200 and "code_challenge" in url.get_json()["authorization_url"]
    assert rx.client.delete(f"{BASE}/acme-hs", headers=ACME).status_code == 204
    assert [i.id for i in rx.registry.list()] == ["globex-hs"]


def test_a_bound_key_creates_in_its_own_organisation_only(rx):
    created = rx.client.post(BASE, json={"type": "github", "name": "repos"}, headers=ACME)
    assert created.status_code == 201
    assert created.get_json()["organization_id"] == "acme"
    explicit = rx.client.post(
        BASE, json={"type": "github", "name": "r", "organization_id": "acme"}, headers=ACME
    )
    assert explicit.status_code == 201

    other = rx.client.post(
        BASE, json={"type": "github", "name": "r", "organization_id": "globex"}, headers=ACME
    )
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "forbidden"
    assert [i.id for i in rx.registry.list("globex")] == ["globex-hs"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("delete", ""), ("get", "/authorize-url")],
    ids=["get", "delete", "authorize-url"],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}], ids=["anonymous", "unknown-key"]
)
def test_without_a_valid_key_every_id_answers_the_same_401(rx, method, suffix, headers):
    existing = getattr(rx.client, method)(f"{BASE}/acme-hs{suffix}", headers=headers)
    missing = getattr(rx.client, method)(f"{BASE}/no-such-id{suffix}", headers=headers)

    assert existing.status_code == missing.status_code == 401
    assert existing.get_data() == missing.get_data()
    assert existing.headers["WWW-Authenticate"] == missing.headers["WWW-Authenticate"]
    assert rx.registry.get("acme-hs")  # and nothing was deleted


def test_the_key_is_checked_before_the_registry_is_read(rx, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the registry was read before the API key was checked")

    monkeypatch.setattr(rx.registry, "get", boom)
    monkeypatch.setattr(rx.registry, "list", boom)
    for method, path in (
        ("get", f"{BASE}/acme-hs"),
        ("delete", f"{BASE}/no-such-id"),
        ("get", f"{BASE}/acme-hs/authorize-url"),
        ("get", BASE),
    ):
        assert getattr(rx.client, method)(path).status_code == 401
