"""Dedup assets: one multi-asset per match-rule file, producing `crm/<model>_golden` and
`crm/<model>_crosswalk` downstream of every mapping asset that writes the canonical table.

The body is one call into `mappings.dedup`; the rest is metadata (row counts, phase timings,
id stability, column schema and column lineage) and the dedup checks.
"""

from collections.abc import Sequence

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.defs.mappings.checks import (
    CROSSWALK_TO_GOLDEN,
    CROSSWALK_TO_SOURCE,
    DEDUP_ROWS_BALANCE,
    GOLDEN_HAS_MEMBERS,
    UNIQUE_GOLDEN_IDS,
    crosswalk_checks,
    golden_checks,
)
from dagster_project.defs.mappings.metadata import table_schema
from dagster_project.resources import PlatformResource
from mappings.dedup import DedupEngine, DedupResult, MatchRules


def table_key(qualified: str) -> dg.AssetKey:
    """`crm.contacts_golden` -> crm/contacts_golden."""
    return dg.AssetKey(qualified.split("."))


def _golden_lineage(result: DedupResult, upstream: Sequence[dg.AssetKey]) -> dg.TableColumnLineage:
    """Each survivorship column comes from the same column of every mapping that feeds it."""
    return dg.TableColumnLineage(
        {
            column: [dg.TableColumnDep(asset_key=key, column_name=column) for key in upstream]
            for column in result.golden_columns
            if column != "golden_id"
        }
    )


def _run_metadata(result: DedupResult) -> dict:
    return {
        "records": result.records,
        "clusters": result.clusters,
        "multi_record_clusters": result.multi_record_clusters,
        "duplicate_source_rows": result.duplicate_rows,
        "ids_kept": result.ids.kept,
        "ids_new": result.ids.new,
        "ids_merged": result.ids.merged,
        "ids_split": result.ids.split,
        "ids_removed": result.ids.removed,
        "rule_edges": dg.MetadataValue.json({r.rule: r.edges for r in result.rules}),
        "rule_skipped": dg.MetadataValue.json(
            {r.rule: [r.skipped_groups, r.skipped_records] for r in result.rules}
        ),
        "components": f"{result.components_method} ({result.components_passes} passes)",
        "phase_seconds": dg.MetadataValue.json(result.phase_seconds),
        "duration_s": result.seconds,
        # why two records merged: each probabilistic rule's match weights (HTML and PNG)
        **{f"chart/{name}": dg.MetadataValue.path(str(p)) for name, p in result.artefacts.items()},
    }


def build_dedup_assets(
    rules: MatchRules, upstream: Sequence[dg.AssetKey], pool: str | None
) -> dg.AssetsDefinition:
    """Golden + crosswalk for one canonical model; `upstream` are the mapping assets that write
    its canonical table (they must all run before the dedup reads it)."""
    golden_key, crosswalk_key = table_key(rules.golden), table_key(rules.crosswalk)
    common = {
        "deps": list(upstream),
        "group_name": "crm",
        "kinds": {"duckdb" if pool else "postgres", "sql"},
        "automation_condition": dg.AutomationCondition.eager(),
    }
    specs = [
        dg.AssetSpec(
            golden_key,
            description=f"One golden {rules.model} record per cluster of matching records "
            f"in {rules.source}, with survivorship per field.",
            metadata={"table": rules.golden, "match_rules": rules.model},
            **common,
        ),
        dg.AssetSpec(
            crosswalk_key,
            description=f"Every record of {rules.source} with its golden id and the rule "
            f"that matched it; retired ids in {rules.merges}.",
            metadata={"table": rules.crosswalk, "merges_table": rules.merges},
            **common,
        ),
    ]
    check_specs = [
        dg.AssetCheckSpec(UNIQUE_GOLDEN_IDS, asset=golden_key),
        dg.AssetCheckSpec(GOLDEN_HAS_MEMBERS, asset=golden_key),
        dg.AssetCheckSpec(CROSSWALK_TO_GOLDEN, asset=crosswalk_key),
        dg.AssetCheckSpec(CROSSWALK_TO_SOURCE, asset=crosswalk_key),
        dg.AssetCheckSpec(DEDUP_ROWS_BALANCE, asset=crosswalk_key),
    ]

    @dg.multi_asset(name=f"dedup_{rules.model}", specs=specs, check_specs=check_specs, pool=pool)
    def _dedup(context: AssetExecutionContext, platform: PlatformResource):
        warehouse = platform.warehouse()
        # probabilistic rules' match-weight and m/u charts go to DATA_DIR/dedup/<model>/
        artefacts = platform.settings().data_dir / "dedup"
        result = DedupEngine(warehouse, artefacts_dir=artefacts).run(rules)
        context.log.info(
            f"{rules.model}: {result.records} records -> {result.clusters} golden "
            f"({result.ids.new} new ids, {result.ids.merged} merged) in {result.seconds:.1f}s"
        )
        run = _run_metadata(result)
        yield dg.MaterializeResult(
            asset_key=golden_key,
            metadata={
                **run,
                "dagster/row_count": result.golden_rows,
                "dagster/column_schema": table_schema(warehouse, rules.golden),
                "dagster/column_lineage": _golden_lineage(result, upstream),
            },
        )
        yield dg.MaterializeResult(
            asset_key=crosswalk_key,
            metadata={
                **run,
                "dagster/row_count": result.crosswalk_rows,
                "dagster/column_schema": table_schema(warehouse, rules.crosswalk),
            },
        )
        for outcome in golden_checks(warehouse, rules):
            yield outcome.result(golden_key)
        for outcome in crosswalk_checks(warehouse, rules, result):
            yield outcome.result(crosswalk_key)

    return _dedup
