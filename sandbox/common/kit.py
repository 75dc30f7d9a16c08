"""The sandbox kit: what the CLI, the demo and the provider acceptance suite ask of a provider's
sandbox, as one protocol.

A provider points at its kit with `Provider.sandbox = "sandbox.<provider>.kit:KIT"`; callers get
it with `get_provider(name).load_sandbox()`. A kit drives its sandbox only through the sandbox's
own HTTP interfaces (the API, its auth server, the `/_sandbox/` admin) and the platform's public
APIs; it never reaches into the platform's storage. This module names no provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import click
    from flask import Flask
    from pydantic import BaseModel

    from pipelines.models import Integration
    from pipelines.registry import IntegrationRegistry


class SandboxKit(Protocol):
    """One provider's sandbox: build and serve it, connect an integration to it, read its truth,
    change it, and sign a webhook delivery the way the provider does."""

    provider: str  # the provider's name in the registry
    default_port: int  # the fixed port `platform sandbox` and the demo use

    # -- building and serving ------------------------------------------------------------------
    def create_app(self, **config: Any) -> Flask:
        """A fresh, seeded sandbox app with small defaults suitable for tests."""
        ...

    def build_app(self, config: BaseModel) -> Flask:
        """The sandbox app for a full config (`serve_config` / `demo_config`)."""
        ...

    def cli_options(self) -> list[click.Option]:
        """The provider's own options of `platform sandbox` (data size, limits, webhooks)."""
        ...

    def serve_config(
        self, options: Mapping[str, Any], config_json: str | None, state_dir: Path | None
    ) -> BaseModel:
        """The config `platform sandbox` serves from its options (state kept in `state_dir`)."""
        ...

    def demo_config(self, size: int, state_dir: Path | None) -> BaseModel:
        """The portal the demo loads: about `size` records of the main entity."""
        ...

    # -- what the platform and the acceptance suite do with it ---------------------------------
    def connect(
        self, registry: IntegrationRegistry, base_url: str, integration_id: str
    ) -> Integration:
        """Register an integration and authorize it through the provider's real auth flow against
        the sandbox; the sandbox's app credentials are stored in the integration's own config."""
        ...

    def connect_with_bad_credentials(
        self, registry: IntegrationRegistry, base_url: str, integration_id: str
    ) -> Integration:
        """Register an integration whose credentials the sandbox refuses."""
        ...

    def truth(self, base_url: str, entity: str) -> dict[str, str]:
        """Id -> modification cursor value of every live record, from the admin interface.

        Values are spelled as the warehouse holds them in the entity's cursor column
        (`EntitySpec.warehouse_cursor_column`, compared as text, datetimes as ISO 8601), so the
        acceptance suite can compare the two without knowing the provider."""
        ...

    def mutate(self, base_url: str, entity: str, count: int) -> list[str]:
        """Change `count` live records, advancing their modification cursor past every value the
        platform may have read already; their ids (exactly `count` when the sandbox holds as
        many)."""
        ...

    def signed_delivery(
        self,
        base_url: str,
        integration_id: str,
        entity: str,
        ids: list[str],
        secret: str,
        receiver_url: str,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body the provider would POST to `receiver_url` for changes of `ids`."""
        ...

    def webhook_secret(self, integration: Integration) -> str:
        """The secret the provider signs this integration's deliveries with."""
        ...
