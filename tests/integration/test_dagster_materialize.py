"""Dagster in-process: materializing the declared assets runs a real sync with checks."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.hubspot.assets import build_hubspot_assets
from dagster_project.resources import PlatformResource
from pipelines.declarations import IntegrationDeclaration
from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import register_private_app


def test_materialize_all_entities_records_metadata_and_passes_checks(
    settings, sandbox, monkeypatch
):
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "dagster-itest")
    assets = build_hubspot_assets(IntegrationDeclaration(id="dagster-itest", type="hubspot"))

    result = dg.materialize(
        [assets], resources={"platform": PlatformResource(data_dir=str(settings.data_dir))}
    )

    assert result.success
    mats = {
        m.asset_key.path[-1]: m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert set(mats) == {"contacts", "companies", "deals"}
    assert mats["contacts"]["rows_loaded"].value == 1200
    assert mats["contacts"]["requests_made"].value > 0
    assert "rate_limit_waits" in mats["contacts"]
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_materialize_a_subset_syncs_only_that_entity(settings, sandbox, monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "dagster-sub")
    assets = build_hubspot_assets(IntegrationDeclaration(id="dagster-sub", type="hubspot"))

    result = dg.materialize(
        [assets],
        selection=[dg.AssetKey(["hubspot", "dagster_sub", "deals"])],
        resources={"platform": PlatformResource(data_dir=str(settings.data_dir))},
    )

    assert result.success
    keys = [e.asset_key.path[-1] for e in result.get_asset_materialization_events()]
    assert keys == ["deals"]


def test_a_full_sync_with_zero_rows_fails_loudly(settings, sandbox, monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    sandbox.reset(deals=0)
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "dagster-empty")
    assets = build_hubspot_assets(
        IntegrationDeclaration(id="dagster-empty", type="hubspot", entities=["deals"])
    )

    result = dg.materialize(
        [assets],
        resources={"platform": PlatformResource(data_dir=str(settings.data_dir))},
        raise_on_error=False,
    )

    assert not result.success
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert [c.check_name for c in failed] == ["full_sync_not_empty"]
