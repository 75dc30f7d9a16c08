"""HubSpot as a provider of the platform: everything generic rooms need to know, as one object.

The entities, the config schema (secret fields typed `SecretStr`), the hosts HubSpot serves from,
the OAuth endpoints, and the factories of the client, the dlt source and the sandbox. Nothing
outside this package and `sandbox/hubspot/` should need to know a HubSpot fact.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr

from sources.hubspot.client import client_from_context
from sources.hubspot.entities import ENTITIES
from sources.hubspot.webhook_apply import PROPERTY_PREFIX
from sources.hubspot.webhooks import WEBHOOKS
from sources.provider import (
    OAUTH_CODE,
    STATIC_TOKEN,
    AuthSpec,
    EntitySpec,
    HostPolicy,
    OAuthEndpoints,
    Provider,
    ProviderConfig,
    SourceRequest,
)

API_BASE = "https://api.hubapi.com"
AUTH_BASE = "https://app.hubspot.com"


class HubSpotConfig(ProviderConfig):
    """An integration's HubSpot config. Secrets (`SecretStr`) only ever live in the vault."""

    api_base: str | None = None
    auth_base: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    private_app_token: SecretStr | None = None
    scopes: list[str] | None = None
    search_lookback_ms: int = 60_000
    # Webhook signature versions this integration accepts (None: v3 only; see
    # webhook_receiver/verification/hubspot.py for why).
    webhook_signature_versions: list[Literal["v1", "v2", "v3"]] | None = None


def _oauth_endpoints(config: HubSpotConfig, settings) -> OAuthEndpoints:
    from sources.hubspot.auth import (
        AUTHORIZE_PATH,
        DEFAULT_SCOPES,
        ERROR_HINTS,
        EXTRA_TOKEN_FIELDS,
        TOKEN_PATH,
    )

    api_base = (config.api_base or settings.HUBSPOT_API_BASE).rstrip("/")
    auth_base = (config.auth_base or settings.HUBSPOT_AUTH_BASE).rstrip("/")
    return OAuthEndpoints(
        authorize_url=auth_base + AUTHORIZE_PATH,
        token_url=api_base + TOKEN_PATH,
        default_scopes=tuple(DEFAULT_SCOPES),
        error_hints=ERROR_HINTS,
        extra_token_fields=EXTRA_TOKEN_FIELDS,
    )


def _source(client: Any, request: SourceRequest) -> Any:
    # Imported on first use: dlt and pyarrow load only when a sync runs.
    from sources.hubspot.source import source_for

    return source_for(client, request)


PROVIDER = Provider(
    name="hubspot",
    title="HubSpot",
    config_schema=HubSpotConfig,
    hosts=HostPolicy(
        fields=("api_base", "auth_base"),
        hosts=frozenset({"api.hubapi.com", "api.hubspot.com", "app.hubspot.com"}),
        suffixes=(".hubapi.com", ".hubspot.com"),
    ),
    auth=AuthSpec(
        flows=(OAUTH_CODE, STATIC_TOKEN),
        client_id_setting="HUBSPOT_CLIENT_ID",
        client_secret_setting="HUBSPOT_CLIENT_SECRET",
        oauth_endpoints=_oauth_endpoints,
        static_token_field="private_app_token",
    ),
    entities={
        name: EntitySpec(
            name=name,
            cursor_field=entity.lastmod_property,
            by_ids=True,
            tables=tuple(a.table for a in entity.associations),
            cursor_column=PROPERTY_PREFIX + entity.lastmod_property,
            archived_column="archived",
            description=f"HubSpot {name} with every property, associations and archived records",
        )
        for name, entity in ENTITIES.items()
    },
    default_entities=tuple(ENTITIES),
    client=client_from_context,
    source=_source,
    webhooks=WEBHOOKS,
    sandbox="sandbox.hubspot.kit:KIT",
    description="HubSpot CRM: contacts, companies, deals and their associations.",
)
