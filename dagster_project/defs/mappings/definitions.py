"""Mapping and dedup definitions, built from the mapping files, the match-rule files and the
integration declarations with one factory per kind of asset.

For each declared integration whose provider can extract (the same set the integration factory
builds raw assets for) and each mapping whose source names that provider and one of the
integration's declared entities: a mapping asset, downstream of that entity's raw asset. For
each match-rule file whose canonical table some mapping writes: a dedup multi-asset downstream
of all those mapping assets.
"""

from __future__ import annotations

import dagster as dg

from core.settings import Settings
from dagster_project.defs.integrations.definitions import extracting_integrations
from dagster_project.defs.mappings.dedup_assets import build_dedup_assets
from dagster_project.defs.mappings.mapping_assets import build_mapping_asset, mapping_key
from dagster_project.defs.mappings.relations_assets import build_relations_assets
from dagster_project.pools import DUCKDB_WRITER_POOL
from mappings.dedup import load_match_rules_dir
from mappings.spec import load_mappings
from pipelines.declarations import Declarations

MATCH_RULES_DIR = "match_rules"


def mappings_definitions(declarations: Declarations, settings: Settings) -> dg.Definitions:
    pool = DUCKDB_WRITER_POOL if settings.WAREHOUSE == "duckdb" else None
    specs = load_mappings(settings.mappings_dir)
    assets: list[dg.AssetsDefinition] = []
    feeding: dict[str, list[dg.AssetKey]] = {}
    for decl, provider in extracting_integrations(declarations):
        for spec in specs:
            if spec.source.provider != provider.name or spec.source.table not in decl.entities:
                continue
            assets.append(
                build_mapping_asset(
                    spec,
                    decl,
                    pool=pool,
                    max_rejected_ratio=settings.MAPPINGS_MAX_REJECTED_RATIO,
                )
            )
            feeding.setdefault(spec.target, []).append(mapping_key(decl, spec))
    for rules in load_match_rules_dir(settings.mappings_dir / MATCH_RULES_DIR):
        if rules.source in feeding:
            assets.append(build_dedup_assets(rules, feeding[rules.source], pool))
    assets.extend(build_relations_assets(settings.mappings_dir, assets, pool))
    jobs = []
    if assets:
        jobs.append(
            dg.define_asset_job(
                name="crm_refresh",
                selection=dg.AssetSelection.assets(*assets),
                description="Every mapping, then dedup: refreshes the crm schema from raw data.",
            )
        )
    return dg.Definitions(assets=assets, jobs=jobs)
