"""The integration registry: lifecycle, OAuth with single-use expiring state, tokens, audit."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from core.clock import clock
from core.errors import AuthenticationError, NotFoundError, ValidationError
from core.settings import Settings
from pipelines.credentials import OAuthTokenProvider, StaticTokenProvider
from pipelines.registry import IntegrationRegistry, state_digest
from sources.common.tokens import TokenSet
from tests.control_support import BACKENDS, FakeTokenEndpoint

REDIRECT = "http://localhost:8000/oauth/callback"


@pytest.fixture
def token_endpoint():
    with FakeTokenEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def frozen_clock():
    clock.freeze()
    yield clock
    clock.reset()


@pytest.fixture(params=BACKENDS)
def control_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.sqlite'}"
    return request.getfixturevalue("postgres_url")


def make_settings(data_dir, url, api_base, key: str | None) -> Settings:
    return Settings(
        DATA_DIR=data_dir,
        ENCRYPTION_KEY=key,
        CONTROL_DATABASE_URL=url,
        HUBSPOT_CLIENT_ID="client-id",
        HUBSPOT_CLIENT_SECRET="client-secret",
        HUBSPOT_API_BASE=api_base,
        HUBSPOT_AUTH_BASE="https://app.hubspot.test",
        _env_file=None,
    )


@pytest.fixture
def registry(data_dir, control_url, token_endpoint, encryption_key):
    reg = IntegrationRegistry.from_settings(
        make_settings(data_dir, control_url, token_endpoint.base_url, encryption_key)
    )
    yield reg
    reg.db.dispose()


def new_hubspot(registry: IntegrationRegistry, **kw):
    return registry.create(organization_id="org1", user_id="u1", type="hubspot", name="CRM", **kw)


def stored_text(registry: IntegrationRegistry) -> str:
    db = registry.db
    with db.engine.connect() as conn:
        return repr(
            [
                conn.execute(sa.select(t)).all()
                for t in (db.integrations, db.credentials, db.oauth_states, db.audit_log)
            ]
        )


def authorize(registry, token_endpoint, integration_id, code="auth-code-1"):
    """Issue an auth URL, have the fake HubSpot accept `code` for its PKCE challenge."""
    url = registry.authorization_url(integration_id, REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    # The test plays HubSpot: remember the challenge; the verifier is checked against it.
    token_endpoint.codes[code] = query["code_challenge"]
    return query


# -- lifecycle ------------------------------------------------------------------------------


def test_create_get_list_and_filter_by_organization(registry):
    a = new_hubspot(registry, integration_id="hs-a", config={"portal": 1})
    registry.create(
        organization_id="org2", user_id="u2", type="github", name="GH", integration_id="gh-b"
    )
    assert a.status == "pending_auth" and a.config == {"portal": 1}
    assert registry.get("hs-a") == a
    assert [i.id for i in registry.list()] == ["hs-a", "gh-b"]
    assert [i.id for i in registry.list("org2")] == ["gh-b"]
    assert [e.action for e in registry.audit.list("hs-a")] == ["integration.created"]


def test_create_rejects_duplicates_bad_ids_and_types(registry):
    new_hubspot(registry, integration_id="hs-a")
    with pytest.raises(ValidationError, match="already exists"):
        new_hubspot(registry, integration_id="hs-a")
    with pytest.raises(ValidationError, match="invalid integration id"):
        new_hubspot(registry, integration_id="../etc")
    with pytest.raises(ValidationError, match="unknown integration type"):
        registry.create(organization_id="o", user_id="u", type="zendesk", name="x")


def test_get_unknown_is_not_found(registry):
    with pytest.raises(NotFoundError):
        registry.get("nope")


def test_client_secret_in_config_goes_to_the_vault_encrypted(registry):
    integration = new_hubspot(
        registry, config={"client_id": "own-app", "client_secret": "own-app-secret-123"}
    )
    assert "client_secret" not in integration.config
    assert registry.vault.get(integration.id, "client_secret") == {"value": "own-app-secret-123"}
    assert "own-app-secret-123" not in stored_text(registry)
    oauth = registry.oauth_client(integration)
    assert oauth.client_id == "own-app"
    assert "own-app-secret-123" not in repr(oauth)


def test_without_an_encryption_key_a_secret_config_writes_nothing(
    data_dir, control_url, token_endpoint
):
    registry = IntegrationRegistry.from_settings(
        make_settings(data_dir, control_url, token_endpoint.base_url, None)
    )
    with pytest.raises(AuthenticationError, match="no encryption key"):
        new_hubspot(registry, integration_id="hs-a", config={"client_secret": "s3cr3t-value"})
    assert registry.list() == []
    assert "s3cr3t-value" not in stored_text(registry)
    with pytest.raises(AuthenticationError, match="no encryption key"):
        registry.set_private_app_token(
            new_hubspot(registry, integration_id="hs-b").id, "pat-na1-x1"
        )
    assert registry.get("hs-b").status == "pending_auth"
    registry.db.dispose()


def test_delete_removes_credentials_and_states(registry, token_endpoint):
    integration = new_hubspot(registry, config={"client_secret": "abc123abc"})
    authorize(registry, token_endpoint, integration.id)
    registry.delete(integration.id, actor="alice")
    with pytest.raises(NotFoundError):
        registry.get(integration.id)
    assert registry.vault.kinds(integration.id) == []
    with registry.db.engine.connect() as conn:
        assert conn.execute(sa.select(registry.db.oauth_states)).all() == []
    assert registry.audit.list(integration.id)[0].action == "integration.deleted"
    assert registry.audit.list(integration.id)[0].actor == "alice"


def test_status_and_config_changes_are_audited(registry):
    integration = new_hubspot(registry)
    registry.set_status(integration.id, "disabled", actor="bob")
    registry.update_config(integration.id, {"scopes": ["crm.objects.contacts.read"]}, actor="bob")
    assert registry.get(integration.id).status == "disabled"
    assert registry.get(integration.id).config == {"scopes": ["crm.objects.contacts.read"]}
    actions = [(e.action, e.actor) for e in registry.audit.list(integration.id)]
    assert actions[:2] == [
        ("integration.config_updated", "bob"),
        ("integration.status_changed", "bob"),
    ]
    with pytest.raises(ValidationError):
        registry.set_status(integration.id, "sleeping")


# -- OAuth --------------------------------------------------------------------------------------


def test_authorization_url_carries_pkce_and_stores_only_a_hash_and_ciphertext(registry):
    integration = new_hubspot(registry)
    url = registry.authorization_url(integration.id, REDIRECT, scopes=["crm.objects.contacts.read"])
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.hubspot.test/oauth/authorize"
    )
    assert query["client_id"] == "client-id"
    assert query["redirect_uri"] == REDIRECT
    assert query["scope"] == "crm.objects.contacts.read"
    assert query["code_challenge_method"] == "S256"
    with registry.db.engine.connect() as conn:
        row = conn.execute(sa.select(registry.db.oauth_states)).one()
    assert row.state == state_digest(query["state"])
    assert query["state"] not in stored_text(registry)


def test_callback_stores_tokens_encrypted_and_activates(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    done = registry.complete_callback(state=query["state"], code="auth-code-1", actor="alice")
    assert done.status == "active"
    tokens = TokenSet.from_vault(registry.vault.get(integration.id, "oauth_token"))
    assert tokens.hub_id == 62515
    text = stored_text(registry)
    assert tokens.access_token.get_secret_value() not in text
    assert tokens.refresh_token.get_secret_value() not in text
    assert token_endpoint.requests[-1]["redirect_uri"] == REDIRECT
    entry = registry.audit.list(integration.id)[0]
    assert (entry.action, entry.actor) == ("oauth.callback_completed", "alice")


def test_state_is_single_use(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    registry.complete_callback(state=query["state"], code="auth-code-1")
    with pytest.raises(AuthenticationError, match="unknown or already used"):
        registry.complete_callback(state=query["state"], code="auth-code-1")
    assert token_endpoint.exchanges == 1


def test_state_expires_after_ten_minutes(registry, token_endpoint, frozen_clock):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    frozen_clock.advance(601)
    with pytest.raises(AuthenticationError, match="expired"):
        registry.complete_callback(state=query["state"], code="auth-code-1")
    assert registry.get(integration.id).status == "pending_auth"
    assert registry.vault.kinds(integration.id) == []
    assert token_endpoint.exchanges == 0


def test_state_just_inside_ten_minutes_works(registry, token_endpoint, frozen_clock):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    frozen_clock.advance(599)
    assert registry.complete_callback(state=query["state"], code="auth-code-1").status == "active"


def test_provider_error_on_callback_changes_nothing(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    with pytest.raises(AuthenticationError, match="access_denied"):
        registry.complete_callback(state=query["state"], error="access_denied")
    assert registry.get(integration.id).status == "pending_auth"
    assert registry.vault.kinds(integration.id) == []
    assert registry.audit.list(integration.id)[0].action == "oauth.callback_failed"


def test_rejected_code_is_a_clear_error_and_stores_nothing(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    with pytest.raises(AuthenticationError, match="BAD_AUTH_CODE") as err:
        registry.complete_callback(state=query["state"], code="wrong-code")
    assert err.value.integration_id == integration.id
    assert "start the OAuth flow again" in err.value.hint
    assert registry.get(integration.id).status == "pending_auth"
    assert registry.vault.kinds(integration.id) == []


def test_callback_url_is_parsed(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    url = f"{REDIRECT}?code=auth-code-1&state={query['state']}"
    assert registry.complete_callback_url(url, actor="cli").status == "active"
    with pytest.raises(AuthenticationError, match="no state"):
        registry.complete_callback_url(f"{REDIRECT}?code=x")


def test_missing_oauth_app_is_a_clear_error(data_dir, control_url, encryption_key):
    settings = Settings(
        DATA_DIR=data_dir,
        ENCRYPTION_KEY=encryption_key,
        CONTROL_DATABASE_URL=control_url,
        _env_file=None,
    )
    registry = IntegrationRegistry.from_settings(settings)
    integration = new_hubspot(registry)
    with pytest.raises(AuthenticationError, match="no HubSpot OAuth app") as err:
        registry.authorization_url(integration.id, REDIRECT)
    assert "HUBSPOT_CLIENT_ID" in err.value.hint
    registry.db.dispose()


# -- token providers ---------------------------------------------------------------------------


def test_private_app_token_activates_and_gives_a_static_provider(registry):
    integration = new_hubspot(registry)
    assert registry.set_private_app_token(integration.id, " pat-na1-abcdef \n").status == "active"
    provider = registry.token_provider(integration.id)
    assert isinstance(provider, StaticTokenProvider)
    assert provider.access_token() == "pat-na1-abcdef"
    assert "pat-na1-abcdef" not in repr(provider)
    with pytest.raises(AuthenticationError, match="private app token rejected"):
        provider.force_refresh()


def test_no_credentials_is_a_clear_error(registry):
    integration = new_hubspot(registry)
    with pytest.raises(AuthenticationError, match="no credentials"):
        registry.token_provider(integration.id)


@pytest.fixture
def oauth_provider(registry, token_endpoint):
    integration = new_hubspot(registry)
    query = authorize(registry, token_endpoint, integration.id)
    registry.complete_callback(state=query["state"], code="auth-code-1")
    provider = registry.token_provider(integration.id)
    assert isinstance(provider, OAuthTokenProvider)
    return provider


def test_oauth_token_is_cached_until_near_expiry_then_refreshed(
    registry, token_endpoint, oauth_provider, frozen_clock
):
    first = oauth_provider.access_token()
    assert oauth_provider.access_token() == first
    assert token_endpoint.refreshes == 0
    frozen_clock.advance(1800 - 299)  # inside the 300 s skew
    second = oauth_provider.access_token()
    assert second != first and token_endpoint.refreshes == 1
    stored = TokenSet.from_vault(registry.vault.get(oauth_provider.integration_id, "oauth_token"))
    assert stored.access_token.get_secret_value() == second
    assert registry.audit.list(oauth_provider.integration_id)[0].action == "credentials.refreshed"


def test_force_refresh_prefers_a_newer_token_already_in_the_vault(
    registry, token_endpoint, oauth_provider
):
    stale = oauth_provider.access_token()
    other_process = registry.token_provider(oauth_provider.integration_id)
    newer = other_process.force_refresh()
    assert token_endpoint.refreshes == 1
    assert oauth_provider.force_refresh() == newer  # no second refresh
    assert token_endpoint.refreshes == 1
    assert oauth_provider.force_refresh() not in (stale, newer)
    assert token_endpoint.refreshes == 2


def test_revoked_refresh_token_is_a_clear_error_and_audited(
    registry, token_endpoint, oauth_provider
):
    token_endpoint.valid_refresh_tokens.clear()
    with pytest.raises(AuthenticationError, match="BAD_REFRESH_TOKEN") as err:
        oauth_provider.force_refresh()
    assert err.value.integration_id == oauth_provider.integration_id
    assert (
        registry.audit.list(oauth_provider.integration_id)[0].action == "credentials.refresh_failed"
    )


def test_rotate_keys_is_audited_and_keeps_secrets_readable(
    data_dir, control_url, token_endpoint, encryption_key
):
    registry = IntegrationRegistry.from_settings(
        make_settings(data_dir, control_url, token_endpoint.base_url, encryption_key)
    )
    integration = new_hubspot(registry)
    registry.set_private_app_token(integration.id, "pat-na1-rotate-me")
    new_key = Fernet.generate_key().decode()
    rotated = IntegrationRegistry.from_settings(
        make_settings(data_dir, control_url, token_endpoint.base_url, f"{new_key},{encryption_key}")
    )
    assert rotated.rotate_keys(actor="ops") == 1
    only_new = IntegrationRegistry.from_settings(
        make_settings(data_dir, control_url, token_endpoint.base_url, new_key)
    )
    assert only_new.token_provider(integration.id).access_token() == "pat-na1-rotate-me"
    assert only_new.audit.list()[0].action == "secrets.rotated"
    for reg in (registry, rotated, only_new):
        reg.db.dispose()
