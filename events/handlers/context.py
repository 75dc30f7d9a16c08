"""What a webhook handler gets besides its events: where it runs and the platform's services.

Services are built on first use (a handler that only logs never opens the warehouse or the
control database). Tests and the Dagster resource may pass prebuilt ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    from destinations.warehouse import Warehouse
    from events.routing.routes import Route
    from pipelines.registry import IntegrationRegistry
    from pipelines.runner import SyncRunner


@dataclass
class PlatformServices:
    """The warehouse, the integration registry and the sync runner, built lazily and shared by
    every batch one run processes."""

    settings: Settings
    runner_factory: Callable[[Settings], SyncRunner] | None = None

    @cached_property
    def runner(self) -> SyncRunner:
        if self.runner_factory is not None:
            return self.runner_factory(self.settings)
        from pipelines.runner import SyncRunner

        return SyncRunner(self.settings)

    @property
    def registry(self) -> IntegrationRegistry:
        return self.runner.registry

    @property
    def warehouse(self) -> Warehouse:
        return self.runner.warehouse


@dataclass
class HandlerContext:
    """One batch's context: which integration and route, the platform services, a logger."""

    integration_id: str
    provider: str
    route: Route
    entity: str | None
    services: PlatformServices
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("webhooks"))

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def warehouse(self) -> Warehouse:
        return self.services.warehouse

    @property
    def registry(self) -> IntegrationRegistry:
        return self.services.registry

    @property
    def runner(self) -> SyncRunner:
        return self.services.runner

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.route.options)
