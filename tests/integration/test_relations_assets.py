"""Dagster in-process: the relations multi-asset runs after the dedup assets on a DuckDB
warehouse, writes one bridge table per relation with row and unresolved-link counts as
metadata, and its checks pass (or warn when too many links are unresolved)."""

from __future__ import annotations

import dagster as dg
import pytest

from core.settings import Settings
from dagster_project.defs.integrations.definitions import integrations_definitions
from dagster_project.defs.mappings.dedup_assets import build_dedup_assets
from dagster_project.defs.mappings.definitions import mappings_definitions
from dagster_project.defs.mappings.relations_assets import (
    LINKS_RESOLVED,
    POINTS_AT_GOLDEN,
    build_relations_assets,
)
from dagster_project.resources import PlatformResource
from destinations.warehouse import Warehouse
from mappings.dedup import load_match_rules_dir
from pipelines.declarations import Declarations, IntegrationDeclaration
from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import register_private_app
from tests.relations_support import golden_of, mappings_dir, seed


@pytest.fixture
def graph(settings, tmp_path):
    """Dedup assets for the three models (no mapping upstream) plus the relations asset."""
    root = mappings_dir(tmp_path)
    settings = Settings(DATA_DIR=settings.data_dir, MAPPINGS_DIR=root, _env_file=None)
    seed(Warehouse.from_settings(settings))
    dedup = [build_dedup_assets(r, [], None) for r in load_match_rules_dir(root / "match_rules")]
    return settings, root, dedup


def materialize(settings: Settings, assets) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, resources={"platform": PlatformResource(data_dir=str(settings.data_dir))}
    )


def test_relations_asset_writes_bridges_with_counts_and_checks(graph):
    settings, root, dedup = graph
    relations = build_relations_assets(root, dedup, None)
    assert len(relations) == 1
    parents = relations[0].asset_deps[dg.AssetKey(["crm", "golden_contact_companies"])]
    assert {k.to_user_string() for k in parents} == {
        "crm/contacts_golden",
        "crm/contacts_crosswalk",
        "crm/companies_golden",
        "crm/companies_crosswalk",
    }

    result = materialize(settings, [*dedup, *relations])

    assert result.success
    meta = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    contacts = meta["crm/golden_contact_companies"]
    assert contacts["dagster/row_count"].value == 3
    assert contacts["link_rows"].value == 6
    assert contacts["unresolved_from"].value == 1
    assert contacts["unresolved_to"].value == 1
    assert contacts["primary_set"].value == 2
    assert contacts["skipped"].value == []
    assert contacts["links"].value["association hubspot.contact_companies"]["rows"] == 5
    assert meta["crm/golden_deal_contacts"]["dagster/row_count"].value == 2
    lineage = contacts["dagster/column_lineage"].value.deps_by_column
    assert lineage["company_golden_id"] == [
        dg.TableColumnDep(
            asset_key=dg.AssetKey(["crm", "companies_crosswalk"]), column_name="golden_id"
        )
    ]
    checks = {
        (c.asset_key.to_user_string(), c.check_name): (c.passed, c.severity)
        for c in result.get_asset_check_evaluations()
    }
    assert checks[("crm/golden_deal_contacts", POINTS_AT_GOLDEN)] == (
        True,
        dg.AssetCheckSeverity.ERROR,
    )
    # 2 of 6 links unresolved is over the default 5%: a warning, not a failed run
    assert checks[("crm/golden_contact_companies", LINKS_RESOLVED)] == (
        False,
        dg.AssetCheckSeverity.WARN,
    )
    assert checks[("crm/golden_deal_companies", LINKS_RESOLVED)] == (
        True,
        dg.AssetCheckSeverity.WARN,
    )
    warehouse = Warehouse.from_settings(settings)
    ann = golden_of(warehouse, "contacts", "H1")
    assert warehouse.query(
        f"SELECT company_golden_id FROM crm.contacts_golden WHERE golden_id = '{ann}'"
    ) == [(golden_of(warehouse, "companies", "C1"),)]


def test_no_relations_asset_without_both_models_deduplicated(graph):
    _, root, dedup = graph
    only_contacts = [a for a in dedup if dg.AssetKey(["crm", "contacts_golden"]) in a.keys]
    assert build_relations_assets(root, only_contacts, None) == []
    assert build_relations_assets(root / "absent", dedup, None) == []


def test_shipped_relations_from_a_sandbox_sync_match_the_raw_associations(
    settings, sandbox, monkeypatch
):
    """Demo-shaped: a real sync of the sandbox, the shipped mappings, match rules and relation
    files in one Dagster run; the golden relations agree with the raw association tables
    joined by hand through the crosswalks."""
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "rel-portal")
    declarations = Declarations(
        integrations=[IntegrationDeclaration(id="rel-portal", type="hubspot")]
    )
    defs = dg.Definitions.merge(
        integrations_definitions(declarations, schedules_running=False),
        mappings_definitions(declarations, settings),
    )

    result = materialize(
        settings, [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    )

    assert result.success
    checks = {
        (c.asset_key.to_user_string(), c.check_name): c.passed
        for c in result.get_asset_check_evaluations()
        if c.asset_key.path[1].startswith("golden_")
    }
    assert len(checks) == 6 and all(checks.values()), checks
    warehouse = Warehouse.from_settings(settings)
    raw = "raw_hubspot_rel_portal"
    expected = {
        (str(a), str(b))
        for a, b in warehouse.query(
            f"SELECT DISTINCT x.golden_id, y.golden_id FROM {raw}.contact_companies l "
            "JOIN crm.contacts_crosswalk x ON x._source_id = l.contact_id "
            "JOIN crm.companies_crosswalk y ON y._source_id = l.company_id"
        )
    }
    pairs = {
        (str(a), str(b))
        for a, b in warehouse.query(
            "SELECT contact_golden_id, company_golden_id FROM crm.golden_contact_companies"
        )
    }
    assert pairs == expected and len(pairs) > 100
    # every related contact has a primary company, and it is one of its pairs
    (unset, stray) = warehouse.query(
        "SELECT COUNT(*) FILTER (WHERE g.company_golden_id IS NULL), COUNT(*) FILTER (WHERE "
        "NOT EXISTS (SELECT 1 FROM crm.golden_contact_companies b WHERE b.contact_golden_id = "
        "g.golden_id AND b.company_golden_id = g.company_golden_id)) FROM crm.contacts_golden g "
        "WHERE g.golden_id IN (SELECT contact_golden_id FROM crm.golden_contact_companies)"
    )[0]
    assert (unset, stray) == (0, 0)
    deal_contacts = warehouse.query(
        f"SELECT COUNT(*) FROM (SELECT DISTINCT deal_id, contact_id FROM {raw}.deal_contacts) l"
    )[0][0]
    assert (
        warehouse.query("SELECT SUM(_links) FROM crm.golden_deal_contacts")[0][0] == deal_contacts
    )
