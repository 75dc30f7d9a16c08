"""WordPress (with WooCommerce and WP Webhooks) as a provider of the platform, webhook-only for
now.

Its deliveries are verified, stored and routed; it declares no entities, client or source yet,
so its syncs answer "not available yet" (`Provider.extracts` is False). Sites are self-hosted:
any public https host is allowed (the host policy resolves it). Everything the platform knows
about WordPress lives in this package.
"""

from __future__ import annotations

from pydantic import SecretStr

from sources.provider import STATIC_TOKEN, AuthSpec, HostPolicy, Provider, ProviderConfig
from sources.wordpress.webhooks import WEBHOOKS


class WordPressConfig(ProviderConfig):
    """An integration's WordPress config. Secrets (`SecretStr`) only ever live in the vault."""

    site_url: str | None = None
    username: str | None = None
    app_password: SecretStr | None = None  # an Application Password (Basic auth)
    webhook_secret: SecretStr | None = None


PROVIDER = Provider(
    name="wordpress",
    title="WordPress",
    config_schema=WordPressConfig,
    hosts=HostPolicy(fields=("site_url",), any_public_host=True),
    auth=AuthSpec(flows=(STATIC_TOKEN,), static_token_field="app_password"),
    webhooks=WEBHOOKS,
    description="WordPress and WooCommerce sites: webhooks are received; syncs are not "
    "available yet.",
)
