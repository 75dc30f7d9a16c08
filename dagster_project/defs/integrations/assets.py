"""Raw entity assets: one subsettable multi-asset per declared integration, for any provider.

The asset body is a single call into the platform's runner; the provider's client, source and
the load path live in `sources/` and `pipelines/`. Each materialization carries the run's
metadata (from the runner's `SyncResult` and the entity's `EntityReport`) and the entity's
checks (no duplicate primary keys; a full sync with zero rows fails loudly). This module must
never name a provider: everything it knows about one comes from the `Provider` object.

No `from __future__ import annotations` here: Dagster reads the asset's `config: SyncConfig`
annotation at definition time and cannot resolve it from a string.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.defs.integrations.checks import (
    duplicate_keys,
    entity_check_specs,
    full_sync_not_empty,
    is_empty_full_sync,
    no_duplicate_ids,
)
from dagster_project.defs.integrations.keys import entity_key, extract_op_name, group_name
from dagster_project.pools import DUCKDB_WRITER_POOL
from dagster_project.resources import PlatformResource
from pipelines.declarations import IntegrationDeclaration
from pipelines.runner import SyncRequest, SyncResult
from sources.provider import Provider, get_provider


class SyncConfig(dg.Config):
    """Run config of an extraction: `full_refresh` re-reads everything and resets the cursors."""

    full_refresh: bool = False


def entity_metadata(result: SyncResult, entity: str) -> dict[str, object]:
    """What one entity's extraction did, as materialization metadata."""
    report = result.reports[entity]
    return {
        "mode": report.mode,
        "rows_extracted": report.rows,
        "archived_rows": report.archived_rows,
        "rows_loaded": result.rows_loaded.get(entity, 0),
        "association_rows": dg.MetadataValue.json(report.association_rows),
        "requests_made": result.requests,
        "requests_by_kind": dg.MetadataValue.json(result.requests_by_kind),
        "rate_limit_waits": result.rate_limit_waits,
        "rate_limit_wait_s": result.rate_limit_wait_s,
        "duration_s": result.duration_s,
        "cursor_ms": report.cursor_ms or 0,
        "sync_run_id": result.run_id,
        "table": f"{result.dataset}.{entity}",
    }


def build_integration_assets(
    decl: IntegrationDeclaration,
    provider: Provider | None = None,
    *,
    warehouse_kind: str = "duckdb",
) -> dg.AssetsDefinition:
    """A subsettable multi-asset for one integration: materializing one entity alone syncs only
    that entity; all entities at once share one dlt run and one load.

    `provider` defaults to the registered provider the declaration names (`decl.type`).
    """
    provider = provider or get_provider(decl.type)
    name = provider.name
    specs = [
        dg.AssetSpec(
            entity_key(name, decl.id, entity),
            group_name=group_name(name, decl.id),
            kinds={name, "dlt", warehouse_kind},
            description=_description(provider, decl, entity),
            metadata={"integration_id": decl.id, "provider": name, "entity": entity},
        )
        for entity in decl.entities
    ]
    check_specs = [
        check
        for entity in decl.entities
        for check in entity_check_specs(entity_key(name, decl.id, entity))
    ]

    @dg.multi_asset(
        name=extract_op_name(name, decl.id),
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=DUCKDB_WRITER_POOL,
    )
    def _extract(
        context: AssetExecutionContext, config: SyncConfig, platform: PlatformResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        selected = [k.path[-1] for k in context.selected_asset_keys]

        def progress(entity: str, rows: int) -> None:
            context.log.debug(f"{entity}: {rows} rows extracted")

        result = platform.runner().run(
            SyncRequest(
                decl.id, entities=selected, full_refresh=config.full_refresh, actor="dagster"
            ),
            progress=progress,
        )
        warehouse = platform.warehouse()
        empty_full_syncs = []
        for entity in selected:
            key = entity_key(name, decl.id, entity)
            report = result.reports[entity]
            yield dg.MaterializeResult(asset_key=key, metadata=entity_metadata(result, entity))
            spec = provider.entity(entity)
            yield no_duplicate_ids(key, duplicate_keys(warehouse, result.dataset, spec), spec)
            yield full_sync_not_empty(key, report)
            if is_empty_full_sync(report):
                empty_full_syncs.append(entity)
        if empty_full_syncs:
            raise dg.Failure(
                description=f"full sync returned zero rows for {', '.join(empty_full_syncs)}: "
                f"the {provider.title} account is empty or the credentials cannot see these "
                "objects",
            )

    return _extract


def _description(provider: Provider, decl: IntegrationDeclaration, entity: str) -> str:
    spec = provider.entities.get(entity)
    what = (spec.description if spec else "") or f"Raw {provider.title} {entity}"
    return f"{what.rstrip('.')} (integration {decl.id})."
