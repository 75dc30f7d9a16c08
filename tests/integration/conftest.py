"""Integration fixtures: one HubSpot sandbox per test module over real HTTP, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.registry import IntegrationRegistry
from sandbox.common.server import SandboxServer
from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig
from tests.integration.hubspot_support import (
    SMALL_PORTAL,
    Platform,
    Sandbox,
    register_private_app,
)


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[str]:
    server = SandboxServer(create_app(HubSpotSandboxConfig(**SMALL_PORTAL)))
    base_url = server.start()
    try:
        yield base_url
    finally:
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: str) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_server)
    box.reset()
    try:
        yield box
    finally:
        box.http.close()


@pytest.fixture
def platform(settings, sandbox: Sandbox) -> Platform:
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "itest")
    return Platform(settings=settings, registry=registry, sandbox=sandbox)
