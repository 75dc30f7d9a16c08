"""Config is safe by schema: secrets vaulted whatever their spelling or nesting, plain config
validated by the provider's schema, and provider URLs held to the host policy (through the
integrations API, a clear 400), with the DNS rule for any-public-host providers."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.errors import ValidationError
from pipelines.registry import IntegrationRegistry
from sources.common import hosts
from sources.common.hosts import HostRefused, check_url, request_guard
from sources.common.oauth import OAuthClient
from sources.provider import HostPolicy, OAuthEndpoints
from tests.webhook_receiver_support import API_KEY, build_receiver

BASE = "/api/v1/integrations"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
HUBSPOT = HostPolicy(
    fields=("api_base",),
    hosts=frozenset({"api.hubapi.com"}),
    suffixes=(".hubapi.com",),
)
PUBLIC = HostPolicy(fields=("site_url",), any_public_host=True)


def receiver(settings, allow_local: bool):
    return build_receiver(
        settings, API_KEYS=SecretStr(API_KEY), ALLOW_LOCAL_PROVIDER_HOSTS=allow_local
    )


def create_hubspot(rx, integration_id: str, **config):
    return rx.client.post(
        BASE,
        json={
            "type": "hubspot",
            "name": "CRM",
            "organization_id": "acme",
            "id": integration_id,
            "config": config,
        },
        headers=AUTH,
    )


# -- host policy through the integrations API ---------------------------------------------------


@pytest.mark.parametrize(
    ("api_base", "reason"),
    [
        ("https://attacker.example.com", "not a HubSpot host"),
        ("https://api.hubapi.com.attacker.example", "not a HubSpot host"),
        ("file:///etc/passwd", "scheme file:"),
        ("javascript:alert(1)", "scheme javascript:"),
        ("http://api.hubapi.com", "must use https"),
        ("https://", "has no host"),
        ("https://user:pw@api.hubapi.com", "must not carry credentials"),
        ("http://127.0.0.1:8080", "local host"),
        ("https://localhost", "local host"),
    ],
)
def test_a_provider_url_off_policy_is_a_clear_400(settings, api_base, reason):
    rx = receiver(settings, allow_local=False)

    response = create_hubspot(rx, "hs-bad", api_base=api_base)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "api_base" in error["message"] and reason in error["message"]
    assert rx.registry.list() == []


def test_update_config_is_held_to_the_same_policy(settings):
    rx = receiver(settings, allow_local=False)
    assert create_hubspot(rx, "hs-1", api_base="https://api.hubapi.com").status_code == 201
    with pytest.raises(HostRefused, match="not a HubSpot host"):
        rx.registry.update_config("hs-1", {"apiBase": "https://evil.example"})
    assert rx.registry.get("hs-1").config == {"api_base": "https://api.hubapi.com"}


def test_local_hosts_pass_only_when_the_deployment_allows_them(settings):
    rx = receiver(settings, allow_local=True)
    response = create_hubspot(
        rx, "hs-local", api_base="http://127.0.0.1:8080", auth_base="http://localhost:8080"
    )
    assert response.status_code == 201
    assert create_hubspot(rx, "hs-evil", api_base="https://evil.example").status_code == 400
    assert create_hubspot(rx, "hs-http", api_base="http://api.hubapi.com").status_code == 400


def test_the_oauth_exchange_refuses_a_stored_url_off_policy(settings):
    """A row written before the policy (or by hand) is checked again before any exchange."""
    allowed = IntegrationRegistry.from_settings(
        settings.model_copy(
            update={
                "ALLOW_LOCAL_PROVIDER_HOSTS": True,
                "HUBSPOT_CLIENT_ID": "id",
                "HUBSPOT_CLIENT_SECRET": SecretStr("platform-secret"),
            }
        )
    )
    allowed.create(
        organization_id="o",
        user_id="u",
        type="hubspot",
        name="x",
        integration_id="hs-1",
        config={"api_base": "http://127.0.0.1:9"},
    )
    strict = IntegrationRegistry(
        allowed.db,
        allowed.vault,
        allowed.audit,
        allowed.settings.model_copy(update={"ALLOW_LOCAL_PROVIDER_HOSTS": False}),
    )
    with pytest.raises(HostRefused, match="local host"):
        strict.authorization_url("hs-1", "https://platform.example/cb")
    allowed.db.dispose()


# -- secrets by schema, whatever their spelling or nesting --------------------------------------


def test_secrets_are_vaulted_whatever_their_spelling_or_nesting(settings):
    rx = receiver(settings, allow_local=True)
    response = create_hubspot(
        rx,
        "hs-secrets",
        portal="acme",
        privateAppToken="pat-na1-camel",
        **{
            "Client-Secret": "dash-secret-1",
            "nested": {"WEBHOOK_SECRET": "deep-secret-2", "label": "keep", "signing_key": "k"},
            "apps": [{"app_password": "list-secret-3", "name": "a"}],
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["config"] == {
        "portal": "acme",
        "nested": {"label": "keep", "signing_key": "k"},
        "apps": [{"name": "a"}],
    }
    assert body["stored_secrets"] == sorted(
        ["private_app_token", "client_secret", "nested.webhook_secret", "apps.0.app_password"]
    )
    vault = rx.registry.vault
    assert vault.get("hs-secrets", "client_secret") == {"value": "dash-secret-1"}
    text = response.get_data(as_text=True) + rx.client.get(
        f"{BASE}/hs-secrets", headers=AUTH
    ).get_data(as_text=True)
    for secret in ("pat-na1-camel", "dash-secret-1", "deep-secret-2", "list-secret-3"):
        assert secret not in text
    # the vaulted private-app token is the integration's credential
    assert rx.registry.token_provider("hs-secrets").access_token() == "pat-na1-camel"


def test_plain_config_is_validated_by_the_provider_schema(settings):
    rx = receiver(settings, allow_local=True)
    response = create_hubspot(rx, "hs-bad", search_lookback_ms="a minute")
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "invalid HubSpot config" in message and "search_lookback_ms" in message


def test_an_unknown_type_is_refused_by_the_registry(settings):
    registry = IntegrationRegistry.from_settings(settings)
    with pytest.raises(ValidationError, match="unknown integration type 'zendesk'") as err:
        registry.create(organization_id="o", user_id="u", type="zendesk", name="x")
    assert "hubspot" in err.value.hint
    registry.db.dispose()


# -- the DNS rule for providers that admit any public host --------------------------------------


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [
        (["93.184.216.34"], True),
        (["93.184.216.34", "10.0.0.5"], False),  # one private answer is enough to refuse
        (["192.168.1.10"], False),
        (["127.0.0.1"], False),
        (["169.254.169.254"], False),  # link-local: cloud metadata
        (["::1"], False),
        (["fe80::1"], False),
        (["::ffff:10.0.0.1"], False),
        (["2606:4700::6810:85e5"], True),
        ([], False),  # does not resolve
    ],
)
def test_any_public_host_resolves_and_refuses_non_public_addresses(addresses, allowed):
    def resolve(host: str) -> list[str]:
        assert host == "shop.example.org"
        return addresses

    url = "https://shop.example.org/wp-json"
    if allowed:
        assert check_url(url, PUBLIC, allow_local=False, field="site_url", resolve=resolve) == url
    else:
        with pytest.raises(HostRefused, match="site_url"):
            check_url(url, PUBLIC, allow_local=False, field="site_url", resolve=resolve)


def test_any_public_host_uses_the_system_resolver_by_default(monkeypatch):
    monkeypatch.setattr(hosts, "resolve_addresses", lambda host: ["10.1.2.3"])
    with pytest.raises(HostRefused, match="non-public"):
        hosts.check_config_hosts(
            {"siteUrl": "https://intranet.example"},
            PUBLIC,
            allow_local=False,
        )
    with pytest.raises(HostRefused, match="non-public"):
        check_url("https://10.1.2.3", PUBLIC, allow_local=False)


def test_a_redirect_to_a_private_address_is_refused():
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "shop.example.org":
            return httpx.Response(302, headers={"Location": "https://169.254.169.254/latest"})
        return httpx.Response(200, text="metadata")

    seen = []

    def resolve(host: str) -> list[str]:
        seen.append(host)
        return ["93.184.216.34"]

    guard = request_guard(PUBLIC, allow_local=False, resolve=resolve)
    client = httpx.Client(
        transport=httpx.MockTransport(handler),
        follow_redirects=True,
        event_hooks={"request": [guard]},
    )
    with pytest.raises(HostRefused, match="request target .*non-public"):
        client.get("https://shop.example.org/")
    assert seen == ["shop.example.org"]  # the first hop passed, the redirect did not


# -- URLs a token response names ----------------------------------------------------------------

INSTANCE_POLICY = HostPolicy(
    fields=("instance_url",),
    hosts=frozenset({"login.example.com"}),
    suffixes=(".my.example.com",),
)


def oauth_answering(instance_url: str, check) -> OAuthClient:
    import httpx

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "tok", "instance_url": instance_url})

    endpoints = OAuthEndpoints(
        authorize_url="https://login.example.com/authorize",
        token_url="https://login.example.com/token",
        url_fields=("instance_url",),
        extra_token_fields=("instance_url",),
    )
    return OAuthClient(
        endpoints,
        "client",
        "client-secret-value",
        provider="example",
        transport=httpx.MockTransport(token_endpoint),
        check_url=check,
    )


def police(name: str, url: str) -> None:
    check_url(url, INSTANCE_POLICY, allow_local=False, field=name, provider="example")


def test_a_token_response_url_is_held_to_the_host_policy():
    token = oauth_answering("https://acme.my.example.com", police).exchange_code("c", "r", "v")
    assert token.extra["instance_url"] == "https://acme.my.example.com"

    with pytest.raises(HostRefused, match="instance_url names the host evil.example"):
        oauth_answering("https://evil.example", police).exchange_code("c", "r", "v")


def test_a_token_response_url_with_no_policy_to_check_it_is_refused():
    with pytest.raises(ValidationError, match="no host policy"):
        oauth_answering("https://acme.my.example.com", None).exchange_code("c", "r", "v")


def test_the_provider_client_sends_nothing_off_policy():
    """The runner hands every client its provider's guard: a HubSpot client whose base URL is
    not a HubSpot host is refused before the request leaves."""
    import httpx

    from sources.hubspot.client import HubSpotClient

    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(200, json={"results": []})

    class Token:
        def access_token(self) -> str:
            return "token"

        def force_refresh(self) -> str:
            return "token"

    guard = request_guard(HUBSPOT, allow_local=False, provider="hubspot")
    ok = HubSpotClient(
        "https://api.hubapi.com",
        Token(),
        transport=httpx.MockTransport(handler),
        request_guard=guard,
    )
    assert ok.list_properties("contacts") == []
    off = HubSpotClient(
        "https://collector.example",
        Token(),
        transport=httpx.MockTransport(handler),
        request_guard=guard,
    )
    with pytest.raises(HostRefused, match="request target names the host collector.example"):
        off.list_properties("contacts")
    assert [u.host for u in sent] == ["api.hubapi.com"]


def test_a_guard_resolves_a_public_host_again_after_its_ttl():
    answers = {"shop.example.org": ["93.184.216.34"]}
    calls = []

    def resolve(host: str) -> list[str]:
        calls.append(host)
        return answers[host]

    import httpx

    guard = request_guard(PUBLIC, allow_local=False, resolve=resolve, ttl_s=0.0)
    guard(httpx.Request("GET", "https://shop.example.org/wp-json/"))
    answers["shop.example.org"] = ["10.0.0.5"]  # the record now points inside
    with pytest.raises(HostRefused, match="non-public"):
        guard(httpx.Request("GET", "https://shop.example.org/wp-json/"))
    cached = request_guard(PUBLIC, allow_local=False, resolve=resolve, ttl_s=60.0)
    calls.clear()
    answers["shop.example.org"] = ["93.184.216.34"]
    for _ in range(3):
        cached(httpx.Request("GET", "https://shop.example.org/wp-json/wp/v2/posts"))
    assert calls == ["shop.example.org"]
