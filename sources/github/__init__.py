"""GitHub as a provider of the platform, webhook-only for now.

Its webhooks are verified, stored and routed; it declares no entities, client or source yet, so
its syncs answer "not available yet" (`Provider.extracts` is False). Everything the platform
knows about GitHub lives in this package (signature schemes are named, not coded, here).
"""

from __future__ import annotations

from pydantic import SecretStr

from sources.github.webhooks import WEBHOOKS
from sources.provider import STATIC_TOKEN, AuthSpec, HostPolicy, Provider, ProviderConfig

API_BASE = "https://api.github.com"


class GitHubConfig(ProviderConfig):
    """An integration's GitHub config. Secrets (`SecretStr`) only ever live in the vault."""

    api_base: str | None = None
    token: SecretStr | None = None  # a personal access token (classic or fine-grained)
    webhook_secret: SecretStr | None = None


PROVIDER = Provider(
    name="github",
    title="GitHub",
    config_schema=GitHubConfig,
    hosts=HostPolicy(
        fields=("api_base",),
        hosts=frozenset({"api.github.com", "github.com"}),
    ),
    auth=AuthSpec(flows=(STATIC_TOKEN,), static_token_field="token"),
    webhooks=WEBHOOKS,
    description="GitHub repositories: webhooks are received; syncs are not available yet.",
)
