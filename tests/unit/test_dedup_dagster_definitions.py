"""The mapping and dedup part of the Dagster graph: built from mapping files, match rules and
declarations; loads and validates with the rest of the code location."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from core.settings import Settings
from dagster_project.defs.integrations.definitions import integrations_definitions
from dagster_project.defs.mappings.definitions import mappings_definitions
from dagster_project.resources import PlatformResource
from pipelines.declarations import Declarations, IntegrationDeclaration

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "mappings" / "match_rules"
CONTACTS_MAPPING = """\
name: hubspot_contacts
source: {provider: hubspot, table: contacts}
target: crm.contacts
fields:
  email: {source: properties.email, functions: [email_normalize]}
  phone: {source: properties.phone, functions: [phone_normalize]}
  first_name: {source: properties.firstname}
  last_name: {source: properties.lastname}
"""
DEALS_MAPPING = """\
name: hubspot_deals
source: {provider: hubspot, table: deals}
target: crm.deals
fields:
  name: {source: properties.dealname}
"""


@pytest.fixture
def mappings_dir(tmp_path) -> Path:
    root = tmp_path / "mappings"
    (root / "match_rules").mkdir(parents=True)
    (root / "hubspot_contacts.yaml").write_text(CONTACTS_MAPPING)
    (root / "hubspot_deals.yaml").write_text(DEALS_MAPPING)
    shutil.copy(SHIPPED_RULES / "contacts.yaml", root / "match_rules" / "contacts.yaml")
    # its probabilistic rule's trained model, which the rule names relative to itself
    shutil.copy(SHIPPED_RULES / "contacts.model.json", root / "match_rules")
    return root


DECLARATIONS = Declarations(
    integrations=[
        IntegrationDeclaration(id="portal-a", type="hubspot"),
        IntegrationDeclaration(id="portal-b", type="hubspot", entities=["contacts"]),
    ]
)


def build(mappings_dir: Path, tmp_path: Path, **extra) -> dg.Definitions:
    settings = Settings(
        DATA_DIR=tmp_path / "data", MAPPINGS_DIR=mappings_dir, _env_file=None, **extra
    )
    return dg.Definitions.merge(
        mappings_definitions(DECLARATIONS, settings),
        dg.Definitions(resources={"platform": PlatformResource()}),
    )


def test_one_mapping_asset_per_declared_entity_and_dedup_downstream_of_them(mappings_dir, tmp_path):
    graph = build(mappings_dir, tmp_path).resolve_asset_graph()
    built = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    assert sorted(k.to_user_string() for k in built) == [
        "crm/contacts_crosswalk",
        "crm/contacts_golden",
        "mappings/portal_a/hubspot_contacts",
        "mappings/portal_a/hubspot_deals",  # portal_b does not declare deals: no asset
        "mappings/portal_b/hubspot_contacts",
    ]
    upstream = graph.get(dg.AssetKey(["mappings", "portal_a", "hubspot_contacts"])).parent_keys
    assert upstream == {dg.AssetKey(["hubspot", "portal_a", "contacts"])}
    golden_parents = graph.get(dg.AssetKey(["crm", "contacts_golden"])).parent_keys
    assert golden_parents == {
        dg.AssetKey(["mappings", "portal_a", "hubspot_contacts"]),
        dg.AssetKey(["mappings", "portal_b", "hubspot_contacts"]),
    }


def test_checks_and_the_writer_pool_on_duckdb(mappings_dir, tmp_path):
    defs = build(mappings_dir, tmp_path)
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("mappings/portal_a/hubspot_contacts", "rejected_ratio_below_threshold") in checks
    assert ("mappings/portal_a/hubspot_contacts", "rows_in_equal_rows_out") in checks
    assert {
        ("crm/contacts_golden", "unique_golden_ids"),
        ("crm/contacts_golden", "every_golden_record_has_members"),
        ("crm/contacts_crosswalk", "crosswalk_points_at_golden_records"),
        ("crm/contacts_crosswalk", "crosswalk_matches_source_records"),
        ("crm/contacts_crosswalk", "rows_in_equal_rows_out"),
    } <= checks
    for key in (["mappings", "portal_b", "hubspot_contacts"], ["crm", "contacts_golden"]):
        assert defs.resolve_assets_def(dg.AssetKey(key)).op.pool == "duckdb_writer"
    assert defs.resolve_job_def("crm_refresh") is not None


def test_postgres_warehouse_runs_mapping_assets_without_the_duckdb_pool(mappings_dir, tmp_path):
    defs = build(mappings_dir, tmp_path, WAREHOUSE="postgres")
    assert defs.resolve_assets_def(dg.AssetKey(["crm", "contacts_golden"])).op.pool is None


def test_merged_with_the_raw_assets_the_location_validates(mappings_dir, tmp_path):
    defs = dg.Definitions.merge(
        integrations_definitions(DECLARATIONS, schedules_running=False),
        build(mappings_dir, tmp_path),
    )
    dg.Definitions.validate_loadable(defs)


def test_match_rules_without_a_feeding_mapping_build_no_dedup_asset(mappings_dir, tmp_path):
    (mappings_dir / "hubspot_contacts.yaml").unlink()
    keys = build(mappings_dir, tmp_path).resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["crm", "contacts_golden"]) not in keys
