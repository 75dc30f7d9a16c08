"""Relation assets: one multi-asset producing a bridge table `crm/golden_<relation>` per relation
file (`mappings/relations/*.yaml`) whose two models have dedup assets, downstream of both models'
golden and crosswalk assets. It also sets the relation's primary column on the from model's
golden table (`crm.contacts_golden.company_golden_id`), so it runs after every dedup run.

The body is one call into `mappings.dedup.relations`; the rest is metadata (pairs, links read,
unresolved links per side, skipped tables) and two checks per relation: every pair and primary
column points at golden records (error), and the share of unresolved links stays under the
relation's `max_unresolved_ratio` (warning).
"""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.defs.mappings.dedup_assets import table_key
from dagster_project.defs.mappings.metadata import table_schema
from dagster_project.resources import PlatformResource
from destinations.warehouse import Warehouse
from mappings.dedup import MatchRules, load_match_rules_dir
from mappings.dedup.relation_rules import Relation, load_relations_dir
from mappings.dedup.relations import RelationResult, RelationsEngine, relation_checks_sql

RELATIONS_DIR = "relations"
MATCH_RULES_DIR = "match_rules"
POINTS_AT_GOLDEN = "relation_points_at_golden_records"
LINKS_RESOLVED = "links_resolved"


def _metadata(result: RelationResult, seconds: float) -> dict:
    return {
        "from_model": result.from_model,
        "to_model": result.to_model,
        "link_rows": result.link_rows,
        "resolved_links": result.resolved,
        "unresolved_links": result.unresolved,
        "unresolved_from": result.unresolved_from,
        "unresolved_to": result.unresolved_to,
        "unresolved_ratio": result.unresolved_ratio,
        "self_links": result.self_links,
        "from_golden_rows": result.from_golden_rows,
        "from_related": result.from_related,
        "primary_column": result.primary_column or "",
        "primary_set": result.primary_set,
        "links": dg.MetadataValue.json(
            {
                s.link: {
                    "rows": s.rows,
                    "tables": s.tables,
                    "unresolved_from": s.unresolved_from,
                    "unresolved_to": s.unresolved_to,
                }
                for s in result.links
            }
        ),
        "skipped": dg.MetadataValue.json(result.skipped),
        "duration_s": seconds,
    }


def _lineage(relation: Relation, by_model: dict[str, MatchRules]) -> dg.TableColumnLineage:
    """Each golden-id column of the bridge comes from its model's crosswalk."""
    return dg.TableColumnLineage(
        {
            end.column: [
                dg.TableColumnDep(
                    asset_key=table_key(by_model[end.model].crosswalk), column_name="golden_id"
                )
            ]
            for end in (relation.from_, relation.to)
        }
    )


def _checks(
    warehouse: Warehouse, relation: Relation, result: RelationResult, key: dg.AssetKey
) -> list[dg.AssetCheckResult]:
    counts = {
        name: int(warehouse.query(sql)[0][0])
        for name, sql in relation_checks_sql(relation, result).items()
    }
    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=POINTS_AT_GOLDEN,
            passed=not any(counts.values()),
            metadata=counts,
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name=LINKS_RESOLVED,
            passed=result.unresolved_ratio <= relation.max_unresolved_ratio,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "unresolved_ratio": result.unresolved_ratio,
                "max_unresolved_ratio": relation.max_unresolved_ratio,
                "unresolved_from": result.unresolved_from,
                "unresolved_to": result.unresolved_to,
                "link_rows": result.link_rows,
            },
        ),
    ]


def build_relations_assets(
    mappings_dir: Path, built: Sequence[dg.AssetsDefinition], pool: str | None
) -> list[dg.AssetsDefinition]:
    """The relations multi-asset for the relation files under `mappings_dir/relations` whose
    models both have golden and crosswalk assets among `built` (none: an empty list)."""
    models = load_match_rules_dir(mappings_dir / MATCH_RULES_DIR)
    relations = load_relations_dir(mappings_dir / RELATIONS_DIR, models)
    present = {key for asset in built for key in asset.keys}
    by_model = {m.model: m for m in models}

    def ready(rules: MatchRules) -> bool:
        return {table_key(rules.golden), table_key(rules.crosswalk)} <= present

    chosen = [
        r for r in relations if ready(by_model[r.from_.model]) and ready(by_model[r.to.model])
    ]
    if not chosen:
        return []
    specs, check_specs = [], []
    for relation in chosen:
        src, dst = by_model[relation.from_.model], by_model[relation.to.model]
        key = table_key(relation.bridge)
        primary = (
            f"; sets {src.golden}.{relation.primary_column} to the primary {dst.model} golden id"
            if relation.primary_column
            else ""
        )
        specs.append(
            dg.AssetSpec(
                key,
                deps=[
                    table_key(src.golden),
                    table_key(src.crosswalk),
                    table_key(dst.golden),
                    table_key(dst.crosswalk),
                ],
                description=f"Pairs of golden {src.model} and {dst.model} ids from the links "
                f"of relation {relation.name}{primary}.",
                group_name="crm",
                kinds={"duckdb" if pool else "postgres", "sql"},
                metadata={"table": relation.bridge, "relation": relation.name},
                automation_condition=dg.AutomationCondition.eager(),
            )
        )
        check_specs.append(dg.AssetCheckSpec(POINTS_AT_GOLDEN, asset=key))
        check_specs.append(dg.AssetCheckSpec(LINKS_RESOLVED, asset=key))

    @dg.multi_asset(name="golden_relations", specs=specs, check_specs=check_specs, pool=pool)
    def _relations(context: AssetExecutionContext, platform: PlatformResource):
        warehouse = platform.warehouse()
        run = RelationsEngine(warehouse).run(chosen, models)
        for relation in chosen:
            result = run.by_name(relation.name)
            key = table_key(relation.bridge)
            context.log.info(
                f"{relation.name}: {result.link_rows} links -> {result.rows} pairs "
                f"({result.unresolved_from} unresolved {result.from_model}, "
                f"{result.unresolved_to} unresolved {result.to_model})"
            )
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    **_metadata(result, run.seconds),
                    "dagster/row_count": result.rows,
                    "dagster/column_schema": table_schema(warehouse, relation.bridge),
                    "dagster/column_lineage": _lineage(relation, by_model),
                },
            )
            yield from _checks(warehouse, relation, result, key)

    return [_relations]
