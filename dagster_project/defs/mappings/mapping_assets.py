"""Mapping assets: one asset per (mapping file, declared integration of the mapping's provider),
downstream of that integration's raw asset, writing its slice of the canonical table.

The raw asset is `entity_key(<spec's provider>, <integration>, <spec's table>)`: the same key the
integration factory gives the entity, whichever provider the spec names (never hard-coded here).

The body is one call into `MappingEngine.run`; the rest is metadata (row counts, timings,
column schema, column lineage from the mapping's own lineage) and the mapping checks.
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.defs.integrations.keys import entity_key, slug
from dagster_project.defs.mappings.checks import (
    MAPPING_ROWS_BALANCE,
    NULLED_RATIO,
    REJECTED_RATIO,
    mapping_checks,
)
from dagster_project.defs.mappings.metadata import nulled_metadata, table_schema
from dagster_project.resources import PlatformResource
from mappings.engine import MappingEngine, MappingRunResult
from mappings.spec import MappingSpec
from pipelines.declarations import IntegrationDeclaration


def mapping_key(decl: IntegrationDeclaration, spec: MappingSpec) -> dg.AssetKey:
    """mappings/<integration>/<mapping name>."""
    return dg.AssetKey(["mappings", slug(decl.id), spec.name])


def raw_key(decl: IntegrationDeclaration, spec: MappingSpec) -> dg.AssetKey:
    """The raw asset a mapping reads: its provider's entity asset of this integration."""
    return entity_key(spec.source.provider, decl.id, spec.source.table)


def raw_column(source_field: str) -> str:
    """`properties.email` is the raw column `properties__email` (dlt's nesting separator)."""
    return source_field.replace(".", "__")


def column_lineage(result: MappingRunResult, raw_key: dg.AssetKey) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        {
            target: [dg.TableColumnDep(asset_key=raw_key, column_name=raw_column(f)) for f in deps]
            for target, deps in sorted(result.lineage.items())
            if deps
        }
    )


def build_mapping_asset(
    spec: MappingSpec,
    decl: IntegrationDeclaration,
    *,
    pool: str | None,
    max_rejected_ratio: float,
) -> dg.AssetsDefinition:
    key = mapping_key(decl, spec)
    source_key = raw_key(decl, spec)

    @dg.asset(
        key=key,
        deps=[source_key],
        group_name=f"mappings_{slug(decl.id)}",
        kinds={"duckdb" if pool else "postgres", "sql"},
        description=f"{spec.target} rows from {spec.source.provider} {spec.source.table} of "
        f"integration {decl.id}, mapped by {spec.name}; rejects (and on_error: warn values, "
        "as warnings) go to the quarantine table.",
        metadata={"mapping": spec.name, "target": spec.target, "integration_id": decl.id},
        check_specs=[
            dg.AssetCheckSpec(REJECTED_RATIO, asset=key),
            dg.AssetCheckSpec(MAPPING_ROWS_BALANCE, asset=key),
            dg.AssetCheckSpec(
                NULLED_RATIO,
                asset=key,
                description="Warns when conversion nulled more of a column's non-null inputs "
                "than its max_nulled_ratio (field, else mapping settings; default 0.05).",
            ),
        ],
        automation_condition=dg.AutomationCondition.eager(),
        pool=pool,
    )
    def _map(context: AssetExecutionContext, platform: PlatformResource):
        warehouse = platform.warehouse()
        result = MappingEngine(warehouse).run(spec, integration_id=decl.id)
        context.log.info(
            f"{spec.name}: {result.rows_in} in, {result.rows_out} out, "
            f"{result.rows_quarantined} quarantined, {result.values_nulled} values nulled by "
            f"conversion ({result.quarantine_warnings} recorded as quarantine warnings) in "
            f"{result.seconds:.1f}s"
        )
        yield dg.MaterializeResult(
            metadata={
                "rows_in": result.rows_in,
                "rows_out": result.rows_out,
                "rows_quarantined": result.rows_quarantined,
                "rows_deduplicated": result.rows_deduplicated,
                "rows_filtered": result.rows_filtered,
                "warnings": result.warnings,
                "duration_s": result.seconds,
                "udf_seconds": result.udf_seconds,
                "target_table": result.target_table,
                "quarantine_table": result.quarantine_table,
                "dagster/row_count": result.rows_out,
                "dagster/column_schema": table_schema(warehouse, result.target_table),
                "dagster/column_lineage": column_lineage(result, source_key),
                **nulled_metadata(result),
            }
        )
        for outcome in mapping_checks(result, max_rejected_ratio, spec):
            yield outcome.result(key)

    return _map
