"""The mapping engine on the Postgres warehouse: the same rows, rejects and counts as DuckDB and
the reference interpreter, including random mappings (property test), and preview writes
nothing."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings

from destinations.warehouse import Warehouse
from mappings import MappingEngine, MappingFileError, load_mapping, parse_mapping
from mappings.functions import FunctionContext
from mappings.reference import run_reference
from tests.unit.test_mapping_engine import MAPPING, RECORDS, TYPES
from tests.unit.test_mapping_properties import TYPES as PROPERTY_TYPES
from tests.unit.test_mapping_properties import mappings, records
from tests.unit.test_mapping_support import (
    SECRET,
    duckdb_settings,
    load_raw_duckdb,
    load_raw_postgres,
    normalize,
    quarantine_entry,
    quarantine_rows,
    sort_key,
    target_rows,
)

pytestmark = pytest.mark.postgres
SHIPPED = Path(__file__).resolve().parents[2] / "mappings"
CONTACT_TYPES = {
    "id": "string",
    "updated_at": "datetime",
    "archived": "boolean",
    **{
        f"properties__{p}": "string"
        for p in (
            "email",
            "phone",
            "firstname",
            "lastname",
            "company",
            "jobtitle",
            "website",
            "city",
            "state",
            "country",
            "lifecyclestage",
            "hs_lead_status",
            "createdate",
        )
    },
}


def pg_settings(tmp_path: Path, url: str):
    return duckdb_settings(tmp_path, WAREHOUSE="postgres", WAREHOUSE_POSTGRES_URL=url)


def messy_contacts() -> list[dict]:
    out = []
    emails = ["Ada@Example.com", "bad", None, "grace@navy.mil ", "ada@example.com", "x@y"]
    phones = ["(212) 736-5000", "+44 20 7946 0958", "n/a", None, "1-800-555-0199 x2"]
    for i, base in enumerate(RECORDS * 4):
        out.append(
            {
                "id": f"c{i}",
                "updated_at": base["updated_at"],
                "archived": i % 7 == 0,
                "properties__email": emails[i % len(emails)],
                "properties__phone": phones[i % len(phones)],
                "properties__firstname": [" Ada", "Grace", None, ""][i % 4],
                "properties__lastname": ["Lovelace", None, "Hopper"][i % 3],
                "properties__company": "Analytical Engines" if i % 2 else None,
                "properties__jobtitle": None,
                "properties__website": "https://www.example.com/x" if i % 3 else "",
                "properties__city": "London",
                "properties__state": None,
                "properties__country": "UK",
                "properties__lifecyclestage": ["customer", "Lead", "weird", None][i % 4],
                "properties__hs_lead_status": "new",
                "properties__createdate": ["2024-01-15T10:00:00+02:00", "1700000000000", "soon"][
                    i % 3
                ],
            }
        )
    return out


@pytest.mark.parametrize(
    ("spec_source", "data", "types"),
    [
        ("engine_test", RECORDS, TYPES),
        ("hubspot_contacts", None, CONTACT_TYPES),
    ],
)
def test_postgres_duckdb_and_reference_agree(tmp_path, postgres_url, spec_source, data, types):
    if spec_source == "engine_test":
        spec = parse_mapping(MAPPING, "people.yaml")
    else:
        spec = load_mapping(SHIPPED / f"{spec_source}.yaml")
        data = messy_contacts()
    pg = pg_settings(tmp_path / "pg", postgres_url)
    duck = duckdb_settings(tmp_path / "duck")
    load_raw_postgres(postgres_url, "hubspot", "acme", "contacts", data, types)
    load_raw_duckdb(Warehouse.from_settings(duck), "hubspot", "acme", "contacts", data, types)

    results = {}
    for name, settings_ in (("postgres", pg), ("duckdb", duck)):
        warehouse = Warehouse.from_settings(settings_)
        result = MappingEngine(warehouse, settings_).run(spec, integration_id="acme")
        rows = sorted(target_rows(warehouse, spec, "acme"), key=sort_key)
        rejects = sorted(quarantine_entry(q) for q in quarantine_rows(warehouse, spec, "acme"))
        counts = (
            result.rows_in,
            result.rows_out,
            result.rows_quarantined,
            result.rows_deduplicated,
            result.rows_filtered,
            result.warnings_by_rule,
            result.nulled_by_field,
            result.inputs_by_field,
        )
        results[name] = (rows, rejects, counts)

    reference = run_reference(
        spec, data, types=types, context=FunctionContext(phone_region="US", salt=SECRET)
    )
    expected_rows = sorted(
        (
            {
                k: normalize(v, spec.fields[k].type if k in spec.fields else None)
                for k, v in r.items()
            }
            for r in reference.rows
        ),
        key=sort_key,
    )
    assert results["postgres"] == results["duckdb"]
    assert results["postgres"][0] == expected_rows
    assert results["postgres"][1] == sorted(quarantine_entry(q) for q in reference.quarantined)
    assert results["postgres"][2][-2:] == (reference.nulled_by_field, reference.inputs_by_field)


def test_preview_on_postgres_writes_nothing(tmp_path, postgres_url):
    spec = parse_mapping(MAPPING, "people.yaml")
    settings_ = pg_settings(tmp_path, postgres_url)
    load_raw_postgres(postgres_url, "hubspot", "acme", "contacts", RECORDS, TYPES)
    preview = MappingEngine(Warehouse.from_settings(settings_), settings_).preview(
        spec, integration_id="acme"
    )
    assert [r["_source_id"] for r in preview.rows] == ["2", "6"]
    assert {r["rule"] for r in preview.rejects} == {"email_invalid", "email_required"}
    with psycopg.connect(postgres_url) as conn:
        schemas = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'crm'"
        ).fetchall()
    assert schemas == []


@pytest.fixture(scope="module")
def pg_property_db():
    """One database for all property examples (the function-scoped fixture would be reused)."""
    from tests.conftest import POSTGRES_ADMIN_URL

    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        from tests.conftest import service_unavailable

        service_unavailable(f"Postgres not reachable: {exc}")
        return
    name = "itest_mapping_props"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@settings(
    max_examples=int(os.environ.get("MAPPING_PG_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(spec_data=mappings(), data=records())
def test_random_mappings_on_postgres_equal_the_reference(
    tmp_path_factory, pg_property_db, spec_data, data
):
    try:
        spec = parse_mapping(yaml.safe_dump(spec_data, sort_keys=False), "prop.yaml")
    except MappingFileError:
        assume(False)
    load_raw_postgres(pg_property_db, "hubspot", "prop", "contacts", data, PROPERTY_TYPES)
    with psycopg.connect(pg_property_db) as conn:
        conn.execute("DROP SCHEMA IF EXISTS crm CASCADE")
    settings_ = pg_settings(tmp_path_factory.mktemp("pgprop"), pg_property_db)
    warehouse = Warehouse.from_settings(settings_)
    result = MappingEngine(warehouse, settings_).run(spec, integration_id="prop")
    reference = run_reference(
        spec, data, types=PROPERTY_TYPES, context=FunctionContext(phone_region="US", salt=SECRET)
    )
    rows = sorted(target_rows(warehouse, spec, "prop"), key=sort_key)
    assert rows == sorted(
        (
            {
                k: normalize(v, spec.fields[k].type if k in spec.fields else None)
                for k, v in r.items()
            }
            for r in reference.rows
        ),
        key=sort_key,
    )
    assert sorted(quarantine_entry(q) for q in quarantine_rows(warehouse, spec, "prop")) == sorted(
        quarantine_entry(q) for q in reference.quarantined
    )
    assert (result.nulled_by_field, result.inputs_by_field) == (
        reference.nulled_by_field,
        reference.inputs_by_field,
    )
    assert result.invariant_holds
