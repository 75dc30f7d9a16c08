"""Salesforce as a provider of the platform, webhook-only for now.

Its relayed events are verified, stored and routed; it declares no entities, client or source
yet, so its syncs answer "not available yet" (`Provider.extracts` is False). Everything the
platform knows about Salesforce lives in this package.
"""

from __future__ import annotations

from pydantic import SecretStr

from sources.provider import OAUTH_CODE, AuthSpec, HostPolicy, Provider, ProviderConfig
from sources.salesforce.webhooks import WEBHOOKS

LOGIN_BASE = "https://login.salesforce.com"


class SalesforceConfig(ProviderConfig):
    """An integration's Salesforce config. Secrets (`SecretStr`) only ever live in the vault."""

    login_url: str | None = None  # login.salesforce.com, test.salesforce.com or a My Domain
    instance_url: str | None = None  # from the token response
    client_id: str | None = None
    client_secret: SecretStr | None = None
    private_key: SecretStr | None = None  # JWT bearer flow
    webhook_secret: SecretStr | None = None


PROVIDER = Provider(
    name="salesforce",
    title="Salesforce",
    config_schema=SalesforceConfig,
    hosts=HostPolicy(
        fields=("login_url", "instance_url"),
        hosts=frozenset({"login.salesforce.com", "test.salesforce.com"}),
        suffixes=(".my.salesforce.com", ".salesforce.com", ".force.com"),
    ),
    auth=AuthSpec(flows=(OAUTH_CODE,)),
    webhooks=WEBHOOKS,
    description="Salesforce: relayed change events are received; syncs are not available yet.",
)
