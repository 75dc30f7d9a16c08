"""Fixtures of the provider acceptance suite: one sandbox per provider and test over real HTTP,
a platform (registry, runner, warehouse) on a throwaway data directory, and the warehouse read
through the provider's own entity declarations.

Everything provider-specific comes from the `Provider` object or its `SandboxKit`; nothing here
may name a provider. A provider that extracts but has no sandbox kit fails the suite.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.settings import Settings
from destinations.warehouse import Warehouse, dataset_name
from pipelines.models import Integration
from pipelines.registry import IntegrationRegistry
from pipelines.runner import SyncRequest, SyncResult, SyncRunner
from sandbox.common.kit import SandboxKit
from sandbox.common.server import SandboxServer
from sources.common.http import RetryPolicy
from sources.provider import Provider, providers

INTEGRATION_ID = "acceptance"
# Retries stay real (the client's own policy), only the waits shrink.
FAST_RETRY = RetryPolicy(
    max_attempts=10, backoff_base=0.01, backoff_max=0.05, rate_limit_fallback_wait=0.01
)
PROVIDERS = providers.all()


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


@pytest.fixture
def kit(provider: Provider) -> SandboxKit:
    """The provider's sandbox kit; a provider that cannot extract is not run end to end."""
    if not provider.extracts:
        pytest.skip(
            f"{provider.name} is webhook-only (no entities, client or source): "
            "declaration checks only, no end-to-end run"
        )
    kit = provider.load_sandbox()
    assert kit is not None, f"{provider.name} extracts but declares no sandbox kit"
    assert kit.provider == provider.name
    return kit


@pytest.fixture
def sandbox_url(kit: SandboxKit) -> Iterator[str]:
    """A fresh, seeded sandbox of the provider (small test data) served on 127.0.0.1."""
    server = SandboxServer(kit.create_app())
    base_url = server.start()
    try:
        yield base_url
    finally:
        server.stop()


@dataclass
class Platform:
    """The platform as a data engineer runs it, on a throwaway data directory."""

    provider: Provider
    kit: SandboxKit
    settings: Settings
    registry: IntegrationRegistry
    sandbox_url: str
    integration_id: str = INTEGRATION_ID

    def runner(self) -> SyncRunner:
        return SyncRunner(self.settings, registry=self.registry, retry=FAST_RETRY)

    def sync(self, **request: Any) -> SyncResult:
        return self.runner().run(SyncRequest(self.integration_id, **request))

    def connect(self) -> Integration:
        return self.kit.connect(self.registry, self.sandbox_url, self.integration_id)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse.from_settings(self.settings)

    @property
    def dataset(self) -> str:
        return dataset_name(self.provider.name, self.integration_id)

    def truth(self, entity: str) -> dict[str, str]:
        return self.kit.truth(self.sandbox_url, entity)

    def warehouse_state(self, entity: str) -> dict[str, str]:
        """Id -> cursor value (as text) of every live row of the entity's table."""
        spec = self.provider.entity(entity)
        assert len(spec.primary_key) == 1, "the suite compares entities with a one-column key"
        key, cursor = spec.primary_key[0], spec.warehouse_cursor_column
        assert cursor, f"{entity} declares no cursor field"
        where = (
            f" WHERE NOT coalesce({spec.archived_column}, false)" if spec.archived_column else ""
        )
        rows = self.warehouse.query(
            f"SELECT {key}, {cursor} FROM {self.dataset}.{spec.name}{where}"
        )
        state = {str(k): _text(v) for k, v in rows}
        assert len(state) == len(rows), f"{entity}: duplicate live ids in the warehouse"
        return state

    def stale_ids(self, entity: str) -> set[str]:
        """Ids whose warehouse row differs from the truth (missing, extra or another cursor)."""
        truth, held = self.truth(entity), self.warehouse_state(entity)
        return {i for i in set(truth) | set(held) if truth.get(i) != held.get(i)}

    def bookmarks(self) -> Any:
        """The sources' state of the integration's pipeline (its incremental bookmarks)."""
        pipeline = self.runner().pipeline(self.integration_id, self.provider.name)
        return copy.deepcopy(pipeline.state.get("sources"))

    def assert_equals_truth(self, entity: str, ids: list[str] | None = None) -> None:
        """The warehouse's live rows of `entity` (only `ids`, when given) equal the truth."""
        truth, held = self.truth(entity), self.warehouse_state(entity)
        if ids is not None:
            truth = {i: truth[i] for i in ids if i in truth}
            held = {i: held[i] for i in ids if i in held}
        missing = sorted(set(truth) - set(held))
        extra = sorted(set(held) - set(truth))
        stale = sorted(i for i in set(truth) & set(held) if truth[i] != held[i])
        assert not (missing or extra or stale), (
            f"{entity}: {len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}, "
            f"{len(stale)} stale "
            + ", ".join(f"{i}: truth {truth[i]} warehouse {held[i]}" for i in stale[:3])
        )


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@pytest.fixture
def platform(
    provider: Provider, kit: SandboxKit, settings: Settings, sandbox_url: str
) -> Iterator[Platform]:
    registry = IntegrationRegistry.from_settings(settings)
    try:
        yield Platform(provider, kit, settings, registry, sandbox_url)
    finally:
        registry.db.dispose()
