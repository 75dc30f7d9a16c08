"""Dagster in-process: mapping assets and dedup assets materialize with their checks on a DuckDB
warehouse, from seeded raw HubSpot tables and from a real sync of the HubSpot sandbox."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from core.settings import Settings
from dagster_project.defs.integrations.definitions import integrations_definitions
from dagster_project.defs.mappings.definitions import mappings_definitions
from dagster_project.resources import PlatformResource
from pipelines.declarations import Declarations, IntegrationDeclaration
from pipelines.registry import IntegrationRegistry
from tests.integration.hubspot_support import register_private_app

CONTACTS_MAPPING = """\
name: hubspot_contacts
source: {provider: hubspot, table: contacts}
target: crm.contacts
fields:
  email: {source: properties.email, functions: [email_normalize]}
  phone: {source: properties.phone, functions: [phone_normalize]}
  first_name: {source: properties.firstname, functions: [trim]}
  last_name: {source: properties.lastname, functions: [trim]}
rules:
  - {rule: required, field: email}
"""
CONTACTS_RULES = """\
model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email], normalize: lower_trim, max_group_size: 50}
  - {name: phone_exact, type: exact, fields: [phone], normalize: digits, max_group_size: 5}
"""
RAW_COLUMNS = (
    "id VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, archived BOOLEAN, "
    "archived_at TIMESTAMPTZ, properties__email VARCHAR, properties__phone VARCHAR, "
    "properties__firstname VARCHAR, properties__lastname VARCHAR, _extracted_at TIMESTAMPTZ"
)


def mappings_dir(root: Path) -> Path:
    path = root / "mappings"
    (path / "match_rules").mkdir(parents=True)
    (path / "hubspot_contacts.yaml").write_text(CONTACTS_MAPPING)
    # exact rules on the columns this small mapping has (the shipped contacts rules weigh
    # city and job title too; the sandbox test below runs them on the shipped mappings)
    (path / "match_rules" / "contacts.yaml").write_text(CONTACTS_RULES)
    return path


def seed_raw(settings: Settings, portal: str, rows: list[tuple]) -> None:
    """A raw HubSpot contacts table as the foundation's sync leaves it."""
    with duckdb.connect(str(settings.duckdb_path)) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS raw_hubspot_{portal}")
        conn.execute(f"CREATE OR REPLACE TABLE raw_hubspot_{portal}.contacts ({RAW_COLUMNS})")
        for id_, email, phone, first, last in rows:
            conn.execute(
                f"INSERT INTO raw_hubspot_{portal}.contacts VALUES "
                "(?, now(), TIMESTAMPTZ '2024-05-01 00:00:00+00', false, NULL, ?, ?, ?, ?, now())",
                [id_, email, phone, first, last],
            )


def materialize(defs: dg.Definitions, data_dir: Path, **kw) -> dg.ExecuteInProcessResult:
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets, resources={"platform": PlatformResource(data_dir=str(data_dir))}, **kw
    )


def checks_by_asset(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (c.asset_key.to_user_string(), c.check_name): c.passed
        for c in result.get_asset_check_evaluations()
    }


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


@pytest.fixture
def two_portals(settings, tmp_path):
    settings = Settings(
        DATA_DIR=settings.data_dir, MAPPINGS_DIR=mappings_dir(tmp_path), _env_file=None
    )
    seed_raw(
        settings,
        "portal_a",
        [
            ("1", "Ann@Acme.com", "(617) 555-0101", "Ann", "Lee"),
            ("2", "bob@example.org", None, "Bob", "Stone"),
        ],
    )
    seed_raw(
        settings,
        "portal_b",
        [
            ("9", " ann@acme.com", None, "Ann", "Lee"),
            ("8", "a.lee@acme.com", "+1 617 555 0101", "A.", "Lee"),
            ("7", None, None, "No", "Email"),  # rejected: required email
        ],
    )
    declarations = Declarations(
        integrations=[
            IntegrationDeclaration(id="portal-a", type="hubspot", entities=["contacts"]),
            IntegrationDeclaration(id="portal-b", type="hubspot", entities=["contacts"]),
        ]
    )
    return settings, mappings_definitions(declarations, settings)


def test_mappings_then_dedup_across_integrations_with_checks_and_lineage(two_portals):
    settings, defs = two_portals

    result = materialize(defs, settings.data_dir)

    assert result.success
    meta = metadata(result)
    mapped = meta["mappings/portal_b/hubspot_contacts"]
    assert (mapped["rows_in"].value, mapped["rows_out"].value) == (3, 2)
    assert mapped["rows_quarantined"].value == 1
    lineage = mapped["dagster/column_lineage"].value.deps_by_column
    assert lineage["email"] == [
        dg.TableColumnDep(
            asset_key=dg.AssetKey(["hubspot", "portal_b", "contacts"]),
            column_name="properties__email",
        )
    ]
    schema = {c.name for c in mapped["dagster/column_schema"].value.columns}
    assert {"email", "phone", "_source_id", "_source_integration"} <= schema
    golden = meta["crm/contacts_golden"]
    assert golden["dagster/row_count"].value == 2  # Ann (3 records, 2 portals) and Bob
    assert meta["crm/contacts_crosswalk"]["dagster/row_count"].value == 4
    assert "email" in golden["dagster/column_lineage"].value.deps_by_column

    checks = checks_by_asset(result)
    # portal_b quarantined 1 of 3 rows: above the 5% default threshold.
    assert not checks.pop(("mappings/portal_b/hubspot_contacts", "rejected_ratio_below_threshold"))
    assert all(checks.values()), checks
    assert len(checks) == 10

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        clusters = dict(
            conn.execute(
                "SELECT _source_integration || ':' || _source_id, golden_id "
                "FROM crm.contacts_crosswalk"
            ).fetchall()
        )
    assert clusters["portal-a:1"] == clusters["portal-b:9"] == clusters["portal-b:8"]
    assert clusters["portal-a:2"] != clusters["portal-a:1"]


def test_a_failing_check_fails_only_itself_and_ids_survive_a_rematerialization(two_portals):
    settings, defs = two_portals
    first = materialize(defs, settings.data_dir)
    failed = [c for c in first.get_asset_check_evaluations() if not c.passed]
    assert [(c.asset_key.path[1], c.check_name) for c in failed] == [
        ("portal_b", "rejected_ratio_below_threshold")
    ]
    before = metadata(first)["crm/contacts_golden"]

    second = materialize(defs, settings.data_dir)

    after = metadata(second)["crm/contacts_golden"]
    assert before["ids_new"].value == 2
    assert (after["ids_kept"].value, after["ids_new"].value, after["ids_merged"].value) == (
        2,
        0,
        0,
    )


def test_shipped_mappings_and_match_rules_from_a_sandbox_sync_in_one_run(
    settings, sandbox, monkeypatch
):
    """The real sync, the shipped mapping files and the shipped match rules, all entities."""
    monkeypatch.setenv("ENCRYPTION_KEY", settings.ENCRYPTION_KEY.get_secret_value())
    registry = IntegrationRegistry.from_settings(settings)
    register_private_app(registry, sandbox.base_url, "e2e-portal")
    declarations = Declarations(
        integrations=[IntegrationDeclaration(id="e2e-portal", type="hubspot")]
    )
    defs = dg.Definitions.merge(
        integrations_definitions(declarations, schedules_running=False),
        mappings_definitions(declarations, settings),
    )

    result = materialize(defs, settings.data_dir)

    assert result.success
    meta = metadata(result)
    assert meta["hubspot/e2e_portal/contacts"]["rows_loaded"].value == 1200
    for model in ("contacts", "companies", "deals"):
        mapped = meta[f"mappings/e2e_portal/hubspot_{model}"]
        crosswalk = meta[f"crm/{model}_crosswalk"]["dagster/row_count"].value
        assert crosswalk == mapped["rows_out"].value > 0
        assert 0 < meta[f"crm/{model}_golden"]["dagster/row_count"].value <= crosswalk
    checks = checks_by_asset(result)
    assert len(checks) == 3 * 3 + 3 * 5 + 3 * 2 + 3 * 2  # mapping, dedup, raw, relation checks
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}
    # the sandbox's phones are realistic: a few per cent invalid, each a quarantine warning
    contacts = meta["mappings/e2e_portal/hubspot_contacts"]
    assert 0 < contacts["nulled_ratio/phone"].value <= 0.05
    assert contacts["quarantine_warnings"].value == contacts["nulled/phone"].value > 0


WARN_MAPPING = """\
name: hubspot_contacts
source: {provider: hubspot, table: contacts}
target: crm.contacts
settings: {max_nulled_ratio: 0.3}
fields:
  email: {source: properties.email, functions: [email_normalize]}
  phone: {source: properties.phone, functions: [phone_normalize], on_error: warn}
  first_name: {source: properties.firstname, functions: [trim], max_nulled_ratio: 0}
"""


def nulled_check_evaluation(result: dg.ExecuteInProcessResult):
    (evaluation,) = [
        c
        for c in result.get_asset_check_evaluations()
        if c.check_name == "nulled_ratio_below_threshold"
    ]
    return evaluation


@pytest.mark.parametrize(
    ("phones", "passed"),
    [
        (["(617) 555-0101", "+1 999 555 0123", None, "+44 20 7946 0958"], False),  # 1/3 > 0.3
        (["(617) 555-0101", "+1 212 736 5000", None, "+44 20 7946 0958"], True),
    ],
)
def test_nulled_values_in_asset_metadata_and_a_warning_check(settings, tmp_path, phones, passed):
    root = tmp_path / "warn"
    (root / "mappings").mkdir(parents=True)
    (root / "mappings" / "hubspot_contacts.yaml").write_text(WARN_MAPPING)
    settings = Settings(DATA_DIR=settings.data_dir, MAPPINGS_DIR=root / "mappings", _env_file=None)
    seed_raw(
        settings,
        "portal_w",
        [(str(i), f"p{i}@example.com", phone, "P", "Q") for i, phone in enumerate(phones)],
    )
    declarations = Declarations(
        integrations=[IntegrationDeclaration(id="portal-w", type="hubspot", entities=["contacts"])]
    )

    result = materialize(mappings_definitions(declarations, settings), settings.data_dir)

    assert result.success  # a warning never fails the run
    mapped = metadata(result)["mappings/portal_w/hubspot_contacts"]
    nulled = 0 if passed else 1
    assert mapped["nulled/phone"].value == nulled
    assert mapped["nulled_ratio/phone"].value == round(nulled / 3, 6)
    assert mapped["quarantine_warnings"].value == nulled
    assert mapped["nulled_by_column"].value["phone"] == {
        "nulled": nulled,
        "inputs": 3,
        "ratio": round(nulled / 3, 6),
    }
    evaluation = nulled_check_evaluation(result)
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.passed is passed
    by_column = evaluation.metadata["nulled_by_column"].value
    assert by_column["phone"]["max_ratio"] == 0.3  # the mapping's threshold
    assert by_column["first_name"]["max_ratio"] == 0  # the field's own
    assert by_column["email"]["max_ratio"] == 0.3
    assert evaluation.metadata["columns_over_threshold"].value == ("none" if passed else "phone")
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        warnings = conn.execute(
            "SELECT _source_id, severity, field, value FROM crm.contacts_quarantine"
        ).fetchall()
        landed = conn.execute("SELECT COUNT(*) FROM crm.contacts").fetchone()[0]
    assert landed == 4
    assert warnings == ([] if passed else [("1", "warn", "phone", "+1 999 555 0123")])
