"""Privacy definitions: the analyst tables (`crm_analyst/<table>`), one multi-asset downstream
of every mapping and dedup asset, rebuilt whenever they change.

The body is one call into `privacy.views`; the metadata says which columns each table masks
or hashes, where the tables live (the analyst DuckDB file, or the Postgres schema and role).
"""

import dagster as dg
from dagster import AssetExecutionContext

from core.settings import Settings
from dagster_project.pools import DUCKDB_WRITER_POOL
from dagster_project.resources import PlatformResource
from mappings.dedup import load_match_rules_dir
from mappings.spec import load_mappings
from privacy.tombstones import erased_records_present
from privacy.views import ANALYST_SCHEMA, AnalystViews, analyst_tables

MATCH_RULES_DIR = "match_rules"
NO_ERASED_RECORDS = "no_erased_records"


def analyst_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([ANALYST_SCHEMA, name])


def privacy_definitions(mappings: dg.Definitions, settings: Settings) -> dg.Definitions:
    """`mappings`: the mapping and dedup definitions the analyst tables read from."""
    upstream = sorted(
        {key for asset in mappings.assets or [] for key in getattr(asset, "keys", [])},
        key=lambda k: k.to_user_string(),
    )
    if not upstream:
        return dg.Definitions()
    specs = load_mappings(settings.mappings_dir)
    rules = load_match_rules_dir(settings.mappings_dir / MATCH_RULES_DIR, require_models=False)
    tables = analyst_tables(specs, rules)
    duckdb = settings.WAREHOUSE == "duckdb"
    asset_specs = [
        dg.AssetSpec(
            analyst_key(t.name),
            description=f"{t.source} for analysts: personal columns kept, masked or hashed by "
            "the mapping files' pii: declarations (docs/privacy.md).",
            deps=upstream,
            group_name=ANALYST_SCHEMA,
            kinds={"duckdb" if duckdb else "postgres", "sql"},
            automation_condition=dg.AutomationCondition.eager(),
            skippable=True,  # a table whose source does not exist yet is not written
            metadata={
                "source_table": t.source,
                "pii": dg.MetadataValue.json(
                    {c: f"{p.kind}: {p.policy}" for c, p in sorted(t.policies.items())}
                ),
            },
        )
        for t in tables
    ]

    # where erased people would reappear: the canonical tables whose mappings declare e-mails
    personal = {s.target for s in specs if any(p.kind == "email" for p in s.pii.values())}
    check_specs = [
        dg.AssetCheckSpec(
            NO_ERASED_RECORDS,
            asset=analyst_key(t.name),
            description=f"No tombstoned (erased) record is back in {t.source} or its raw tables.",
        )
        for t in tables
        if t.source in personal
    ]
    checked = {analyst_key(t.name): t.source for t in tables if t.source in personal}

    @dg.multi_asset(
        name="crm_analyst_tables",
        specs=asset_specs,
        check_specs=check_specs,
        pool=DUCKDB_WRITER_POOL if duckdb else None,
    )
    def _analyst_tables(context: AssetExecutionContext, platform: PlatformResource):
        own = platform.settings()
        result = AnalystViews(platform.warehouse(), own.SECRET_KEY.get_secret_value()).refresh(
            load_mappings(own.mappings_dir),
            load_match_rules_dir(own.mappings_dir / MATCH_RULES_DIR, require_models=False),
        )
        context.log.info(f"analyst tables rebuilt in {result.location}")
        for spec in asset_specs:
            name = spec.key.path[-1]
            if name not in result.tables:
                continue  # its source table does not exist yet
            yield dg.MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "dagster/row_count": result.tables[name],
                    "masked_columns": ", ".join(result.masked.get(name, [])) or "none",
                    "hashed_columns": ", ".join(result.hashed.get(name, [])) or "none",
                    "location": result.location,
                    "analyst_role": result.role or "none (DuckDB: a separate file)",
                },
            )
        current = load_mappings(own.mappings_dir)
        for check in check_specs:
            target = checked[check.asset_key]
            present = erased_records_present(
                platform.warehouse(), [s for s in current if s.target == target]
            )
            yield dg.AssetCheckResult(
                asset_key=check.asset_key,
                check_name=check.name,
                passed=not present,
                metadata={"erased_records_present": dg.MetadataValue.json(present)},
            )

    return dg.Definitions(assets=[_analyst_tables])
