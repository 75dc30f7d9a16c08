"""A rerun after a crash that left a load package behind records what that package loaded, and
still runs the sync it was asked for (dlt alone would load the package and extract nothing)."""

from __future__ import annotations

import dlt

from sources.provider import ClientContext, SourceRequest


def leave_pending_package(platform, *, full_refresh: bool) -> str:
    """Extract and normalize a sync, then stop before the load, as a crash mid-load leaves it."""
    runner = platform.runner()
    integration = platform.registry.get(platform.integration_id)
    provider = runner.provider_for(integration)
    config = provider.parse_config(integration.config)
    context = ClientContext(
        integration_id=integration.id,
        config=config,
        tokens=platform.registry.token_provider(integration.id),
        settings=platform.settings,
    )
    pipeline: dlt.Pipeline = runner.pipeline(integration.id, provider.name)
    request = SourceRequest(
        entities=provider.resolve_entities(None), full_refresh=full_refresh, config=config
    )
    pipeline.extract(
        provider.source(provider.client(context), request),
        loader_file_format=runner.warehouse.loader_file_format,
    )
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    return load_id


def test_an_incremental_rerun_records_the_pending_package_and_still_syncs(platform, sandbox):
    platform.sync(full_refresh=True)
    sandbox.mutate("contacts", 40)
    pending = leave_pending_package(platform, full_refresh=False)
    later = sandbox.mutate("deals", 7)["ids"]

    result = platform.sync()

    assert result.status == "success"
    assert result.resumed_load_ids == [pending]
    assert result.resumed_rows["contacts"] == 40
    assert pending in result.load_ids and len(result.load_ids) == 2
    assert result.rows_loaded["contacts"] == 40  # the package's rows are the run's rows
    assert result.rows_loaded["deals"] == len(later)  # and the asked-for sync still ran
    assert result.requests > 0
    from pipelines.run_log import SyncRunLog

    run = SyncRunLog(platform.registry.db).get(result.run_id)
    assert run.status == "success" and run.rows_loaded["contacts"] == 40
    for entity in ("contacts", "companies", "deals"):
        assert platform.diff(entity).equal, entity


def test_a_full_rerun_after_a_crashed_full_sync_is_not_an_empty_full_sync(platform, sandbox):
    from dagster_project.defs.integrations.checks import is_empty_full_sync

    platform.sync(full_refresh=True)
    sandbox.mutate("companies", 5)
    pending = leave_pending_package(platform, full_refresh=True)

    result = platform.sync(full_refresh=True)

    assert result.status == "success" and result.mode == "full"
    assert result.resumed_load_ids == [pending]
    assert result.resumed_rows["contacts"] == 1200
    assert not any(is_empty_full_sync(r) for r in result.reports.values())
    assert result.reports["contacts"].rows == 1200
    for entity in ("contacts", "companies", "deals"):
        assert platform.diff(entity).equal, entity
        dupes = platform.query(f"SELECT COUNT(*) - COUNT(DISTINCT id) FROM {{ds}}.{entity}")
        assert dupes == [(0,)]
