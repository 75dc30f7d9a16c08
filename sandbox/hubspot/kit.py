"""HubSpot's sandbox kit (`sandbox.common.kit.SandboxKit`): what the CLI, the demo and the
provider acceptance suite use to build, serve, connect to, read, change and sign for the HubSpot
sandbox.

It drives the sandbox over HTTP only (API, OAuth server, `/_sandbox/` admin) and the platform
through its public registry; it never reads the platform's storage.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx
import orjson

from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.objtypes import ObjectType, resolve

if TYPE_CHECKING:
    from flask import Flask

    from pipelines.models import Integration
    from pipelines.registry import IntegrationRegistry

PROVIDER = "hubspot"
DEFAULT_PORT = 8765
REDIRECT_URI = "http://127.0.0.1:8000/oauth/hubspot/callback"
TOKEN_FILE = "hubspot-oauth-refresh-tokens.json"
# Small enough for tests, with limits that never throttle them.
TEST_PORTAL: dict[str, Any] = {
    "contacts": 1200,
    "companies": 250,
    "deals": 400,
    "ten_second_limit": 1_000_000,
    "daily_limit": 100_000_000,
}


def _admin(base_url: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{base_url}/_sandbox/{path}", timeout=60, **kw)
    response.raise_for_status()
    return response.json() if response.content else None


def _object_type(entity: str) -> ObjectType:
    otype = resolve(entity)
    if otype is None:
        raise ValueError(f"the HubSpot sandbox has no entity {entity!r}")
    return otype


class HubSpotSandboxKit:
    """The HubSpot sandbox, as the platform's tools and tests see it."""

    provider = PROVIDER
    default_port = DEFAULT_PORT

    # -- building and serving --------------------------------------------------------------
    def create_app(self, **config: Any) -> Flask:
        return self.build_app(HubSpotSandboxConfig(**{**TEST_PORTAL, **config}))

    def build_app(self, config: HubSpotSandboxConfig) -> Flask:  # type: ignore[override]
        from sandbox.hubspot.app import create_app

        return create_app(config)

    def cli_options(self) -> list[click.Option]:
        return [
            click.Option(["--seed"], type=int),
            click.Option(["--contacts"], type=int),
            click.Option(["--companies"], type=int),
            click.Option(["--deals"], type=int),
            click.Option(["--custom-properties"], type=int),
            click.Option(["--ten-second-limit"], type=int),
            click.Option(["--daily-limit"], type=int),
            click.Option(["--search-per-second"], type=int),
            click.Option(
                ["--webhook-url"], help="Send signed webhook batches of every change to this URL."
            ),
            click.Option(
                ["--webhook-secret"], help="Signing secret (default: the app's client secret)."
            ),
            click.Option(["--webhook-signature-version"], type=click.Choice(["v1", "v2", "v3"])),
            click.Option(
                ["--webhook-subscription"],
                multiple=True,
                help="eventType[:propertyName], repeatable (default: creation, deletion, "
                "propertyChange and associationChange of contacts, companies, deals)",
            ),
        ]

    def serve_config(
        self, options: Mapping[str, Any], config_json: str | None, state_dir: Path | None
    ) -> HubSpotSandboxConfig:
        from sandbox.hubspot.webhooks.settings import cli_webhooks

        options = dict(options)
        webhooks = cli_webhooks(
            options.pop("webhook_url", None),
            options.pop("webhook_secret", None),
            options.pop("webhook_signature_version", None),
            options.pop("webhook_subscription", None) or (),
        )
        data: dict[str, Any] = json.loads(config_json) if config_json else {}
        data.update({k: v for k, v in options.items() if v is not None})
        if webhooks:
            data["webhooks"] = {**data.get("webhooks", {}), **webhooks}
        if state_dir is not None and "token_file" not in data:
            data["token_file"] = str(state_dir / TOKEN_FILE)
        return HubSpotSandboxConfig(**data)

    def demo_config(self, size: int, state_dir: Path | None) -> HubSpotSandboxConfig:
        return HubSpotSandboxConfig(
            contacts=size,
            companies=size // 5,
            deals=size // 3,
            token_file=str(state_dir / TOKEN_FILE) if state_dir else None,
        )

    # -- connecting ------------------------------------------------------------------------
    def connect(
        self,
        registry: IntegrationRegistry,
        base_url: str,
        integration_id: str,
        *,
        name: str = "HubSpot sandbox portal",
        organization_id: str = "org",
        user_id: str = "user",
        actor: str = "sandbox-kit",
    ) -> Integration:
        """OAuth code + PKCE through the sandbox's authorize endpoint, with the sandbox's OAuth
        app stored in the integration's config (the secret goes to the vault)."""
        app = _admin(base_url, "GET", "config")
        registry.create(
            organization_id=organization_id,
            user_id=user_id,
            type=PROVIDER,
            name=name,
            config={
                "api_base": base_url,
                "auth_base": base_url,
                "client_id": app["oauth_client_id"],
                "client_secret": app["oauth_client_secret"],
            },
            integration_id=integration_id,
            actor=actor,
        )
        url = registry.authorization_url(integration_id, REDIRECT_URI, actor=actor)
        consent = httpx.get(url, follow_redirects=False, timeout=10)
        return registry.complete_callback_url(consent.headers.get("location", ""), actor=actor)

    def connect_with_bad_credentials(
        self, registry: IntegrationRegistry, base_url: str, integration_id: str
    ) -> Integration:
        """A private app token the sandbox never issued: every API call is a 401."""
        registry.create(
            organization_id="org",
            user_id="user",
            type=PROVIDER,
            name="HubSpot sandbox portal (bad credentials)",
            config={"api_base": base_url, "auth_base": base_url},
            integration_id=integration_id,
            actor="sandbox-kit",
        )
        return registry.set_private_app_token(
            integration_id, "pat-na1-ffffffff-ffff-ffff-ffff-ffffffffffff", actor="sandbox-kit"
        )

    def webhook_secret(self, integration: Integration) -> str:
        """HubSpot signs with the OAuth app's client secret: the sandbox's, read from its admin."""
        return str(_admin(integration.config["api_base"], "GET", "config")["oauth_client_secret"])

    # -- reading and changing the sandbox --------------------------------------------------
    def truth(self, base_url: str, entity: str) -> dict[str, str]:
        cursor = _object_type(entity).lastmod_prop
        from sandbox.hubspot.verify import truth_records

        return {
            str(record["id"]): str(
                (record.get("properties") or {}).get(cursor) or record["updatedAt"]
            )
            for record in truth_records(base_url, entity, archived=False)
        }

    def mutate(self, base_url: str, entity: str, count: int) -> list[str]:
        body = _admin(base_url, "POST", "mutate", json={"object_type": entity, "count": count})
        return [str(i) for i in body["ids"]]

    def signed_delivery(
        self,
        base_url: str,
        integration_id: str,
        entity: str,
        ids: list[str],
        secret: str,
        receiver_url: str,
    ) -> tuple[dict[str, str], bytes]:
        """propertyChange events of `ids`, built and v3-signed by the sandbox's own sender code."""
        from sandbox.hubspot.webhooks.events import ChangeOrigin, EventContext, Updated, events_for
        from sandbox.hubspot.webhooks.settings import WebhookSettings
        from sandbox.hubspot.webhooks.signing import signature_headers

        config = HubSpotSandboxConfig(**_admin(base_url, "GET", "config"))
        otype = _object_type(entity)
        settings = WebhookSettings(
            target_url=receiver_url, subscriptions=[f"{otype.singular}.propertyChange"]
        )
        event_ids = itertools.count(time.time_ns() // 1000)
        context = EventContext(config.portal_id, config.app_id, lambda: next(event_ids))
        now_ms = int(time.time() * 1000)
        events = [
            event
            for record_id in ids
            for event in events_for(
                Updated(
                    otype,
                    int(record_id),
                    {otype.lastmod_prop: str(now_ms)},
                    now_ms,
                    ChangeOrigin("API"),
                ),
                settings,
                context,
            )
        ]
        body = orjson.dumps(events)
        headers = {"Content-Type": "application/json"}
        headers.update(
            signature_headers("v3", secret, "POST", receiver_url, body, now_ms, legacy=False)
        )
        return headers, body


KIT = HubSpotSandboxKit()
