"""HubSpot assets: one asset per declared entity of every declared integration, from one factory.

The asset body is a single call into the platform's runner; the source, the client and the
load path live in `sources/` and `pipelines/`. Each materialization carries run metadata and
the entity's asset checks (no duplicate ids; a full sync with zero rows fails loudly).
"""

import re

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.resources import PlatformResource
from pipelines.declarations import IntegrationDeclaration
from pipelines.runner import SyncRequest

DUCKDB_WRITER_POOL = "duckdb_writer"
NO_DUPLICATE_IDS = "no_duplicate_ids"
FULL_SYNC_NOT_EMPTY = "full_sync_not_empty"


def slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", value)


def entity_key(decl: IntegrationDeclaration, entity: str) -> dg.AssetKey:
    return dg.AssetKey(["hubspot", slug(decl.id), entity])


def build_hubspot_assets(decl: IntegrationDeclaration) -> dg.AssetsDefinition:
    """A subsettable multi-asset for one integration: materializing `contacts` alone is a
    contacts-only sync; all entities at once share one dlt run and one load."""
    specs = [
        dg.AssetSpec(
            entity_key(decl, entity),
            group_name=f"hubspot_{slug(decl.id)}",
            kinds={"hubspot", "dlt", "duckdb"},
            description=f"Raw HubSpot {entity} of integration {decl.id}, with their "
            "associations and archived records.",
            metadata={"integration_id": decl.id, "entity": entity},
        )
        for entity in decl.entities
    ]
    check_specs = [
        spec
        for entity in decl.entities
        for spec in (
            dg.AssetCheckSpec(NO_DUPLICATE_IDS, asset=entity_key(decl, entity)),
            dg.AssetCheckSpec(FULL_SYNC_NOT_EMPTY, asset=entity_key(decl, entity)),
        )
    ]

    @dg.multi_asset(
        name=f"hubspot_{slug(decl.id)}_extract",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=DUCKDB_WRITER_POOL,
    )
    def _extract(context: AssetExecutionContext, platform: PlatformResource):
        selected = [k.path[-1] for k in context.selected_asset_keys]
        runner = platform.runner()

        def progress(entity: str, rows: int) -> None:
            context.log.debug(f"{entity}: {rows} rows extracted")

        result = runner.run(
            SyncRequest(decl.id, entities=selected, actor="dagster"), progress=progress
        )
        warehouse = runner.warehouse
        empty_full_syncs = []
        for entity in selected:
            report = result.reports[entity]
            key = entity_key(decl, entity)
            table = f"{result.dataset}.{entity}"
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
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
                    "table": table,
                },
            )
            dupes = (
                warehouse.query(f"SELECT COUNT(*) - COUNT(DISTINCT id) FROM {table}")[0][0]
                if warehouse.table_exists(result.dataset, entity)
                else 0
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=NO_DUPLICATE_IDS,
                passed=dupes == 0,
                metadata={"duplicate_ids": int(dupes)},
            )
            empty = report.mode == "full" and report.rows == 0
            if empty:
                empty_full_syncs.append(entity)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=FULL_SYNC_NOT_EMPTY,
                passed=not empty,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"mode": report.mode, "rows": report.rows},
            )
        if empty_full_syncs:
            raise dg.Failure(
                description=f"full sync returned zero rows for {', '.join(empty_full_syncs)}: "
                "the portal is empty or the token cannot see these objects",
            )

    return _extract
