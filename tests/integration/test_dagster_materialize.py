"""Dagster in-process: materializing the declared assets runs a real sync with checks."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.integrations.assets import build_integration_assets
from dagster_project.materialize import materialize_integration
from dagster_project.resources import PlatformResource
from pipelines.declarations import Declarations, IntegrationDeclaration
from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import register_private_app


def test_materialize_all_entities_records_metadata_and_passes_checks(
    settings, sandbox, monkeypatch
):
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "dagster-itest")
    assets = build_integration_assets(IntegrationDeclaration(id="dagster-itest", type="hubspot"))

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
    assets = build_integration_assets(IntegrationDeclaration(id="dagster-sub", type="hubspot"))

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
    assets = build_integration_assets(
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


def test_materialize_integration_records_materializations_and_checks_on_the_instance(
    settings, sandbox, monkeypatch, tmp_path
):
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "dagster-mat")
    declarations = Declarations(
        integrations=[IntegrationDeclaration(id="dagster-mat", type="hubspot")]
    )
    platform = PlatformResource(data_dir=str(settings.data_dir))
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    first = materialize_integration("dagster-mat", declarations=declarations, platform=platform)
    incremental = materialize_integration(
        "dagster-mat", entities=["deals"], declarations=declarations, platform=platform
    )
    again = materialize_integration(
        "dagster-mat",
        entities=["deals"],
        full_refresh=True,
        declarations=declarations,
        platform=platform,
    )

    with dg.DagsterInstance.get() as instance:  # what the UI on the same DAGSTER_HOME reads
        assert first.success and again.success
        assert first.rows_loaded()["contacts"] == 1200
        assert first.entities["contacts"]["mode"] == "full"
        assert set(first.entities) == {"contacts", "companies", "deals"}
        assert first.checks and all(first.checks.values())
        evaluated = {check for _, check in first.checks}
        assert evaluated >= {"no_duplicate_ids", "full_sync_not_empty"}
        assert any("freshness" in check for check in evaluated)
        # full_refresh reached the runner through the asset's run config.
        assert set(incremental.entities) == {"deals"}
        assert incremental.entities["deals"]["mode"] == "incremental"
        assert set(again.entities) == {"deals"}
        assert again.entities["deals"]["mode"] == "full"
        assert again.rows_loaded()["deals"] == 400
        for entity in ("contacts", "companies", "deals"):
            key = dg.AssetKey(["hubspot", "dagster_mat", entity])
            assert instance.get_latest_materialization_event(key) is not None
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(key, "no_duplicate_ids")]
            )
            assert check, f"no check evaluation recorded for {entity}"
        runs = instance.get_runs()
        assert {r.run_id for r in runs} >= {first.run_id, incremental.run_id, again.run_id}
