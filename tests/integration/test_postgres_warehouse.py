"""The Postgres warehouse against the real server: same data, same guarantees as DuckDB."""

from __future__ import annotations

import pytest

from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import Platform, register_private_app

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_platform(settings, sandbox, postgres_url) -> Platform:
    pg_settings = settings.model_copy(
        update={"WAREHOUSE": "postgres", "WAREHOUSE_POSTGRES_URL": postgres_url}
    )
    registry = IntegrationRegistry.from_settings(pg_settings)
    register_private_app(registry, sandbox.base_url, "pg-itest")
    return Platform(pg_settings, registry, sandbox, integration_id="pg-itest")


def test_full_and_incremental_sync_into_postgres_equal_the_truth(pg_platform, sandbox):
    full = pg_platform.sync(full_refresh=True)
    assert full.rows_loaded["contacts"] == 1200
    sandbox.mutate("contacts", 30)
    sandbox.mutate("deals", 10)

    incr = pg_platform.sync()

    assert incr.reports["contacts"].rows == 30
    for entity in ("contacts", "companies", "deals"):
        diff = pg_platform.diff(entity)
        assert diff.equal, diff.summary()
    assert pg_platform.query("SELECT COUNT(*) FROM {ds}.deal_contacts")[0][0] >= 400


def test_control_database_on_postgres_drives_a_sync(settings, sandbox, postgres_url):
    pg_settings = settings.model_copy(update={"CONTROL_DATABASE_URL": postgres_url})
    registry = IntegrationRegistry.from_settings(pg_settings)
    register_private_app(registry, sandbox.base_url, "pg-control")
    platform = Platform(pg_settings, registry, sandbox, integration_id="pg-control")

    result = platform.sync(full_refresh=True, entities=["companies"])

    assert result.rows_loaded["companies"] == 250
