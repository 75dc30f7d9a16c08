"""The mapping engine on DuckDB: what a run writes, what it replaces, what preview leaves alone,
and that a run whose counts do not add up writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from core.errors import ValidationError
from destinations.warehouse import Warehouse
from mappings import InvariantViolation, MappingCompileError, MappingEngine, parse_mapping
from mappings.session import WarehouseSession
from tests.unit.test_mapping_support import (
    SECRET,
    duckdb_settings,
    load_raw_duckdb,
    quarantine_rows,
    target_rows,
)

TYPES = {
    "id": "string",
    "updated_at": "datetime",
    "archived": "boolean",
    "properties__email": "string",
    "properties__phone": "string",
    "properties__firstname": "string",
    "properties__lastname": "string",
    "properties__amount": "string",
}
MAPPING = """
name: people
source: {provider: hubspot, table: contacts}
target: crm.people
key: [email]
where: "archived = false"
fields:
  email: {source: properties.email, functions: [email_normalize], on_error: reject}
  phone: {source: properties.phone, functions: [phone_normalize]}
  first_name: {source: properties.firstname, functions: [trim, empty_to_null]}
  last_name: {source: properties.lastname, functions: [trim, empty_to_null]}
  full_name: {template: "{{ first_name }} {{ last_name }}"}
  amount: {source: properties.amount, type: decimal, precision: 10, scale: 2}
  email_hash: {source: properties.email, functions: [email_normalize, hash]}
rules:
  - {rule: required, field: email}
  - {rule: range, field: amount, min: 0, severity: warn}
"""


def record(rid, email, day, **extra):
    base = {
        "id": rid,
        "updated_at": datetime(2024, 1, day, tzinfo=UTC),
        "archived": False,
        "properties__email": email,
        "properties__phone": "(212) 736-5000",
        "properties__firstname": " Ada ",
        "properties__lastname": "Lovelace",
        "properties__amount": "10.5",
    }
    return {**base, **extra}


RECORDS = [
    record("1", "ada@example.com", 1),
    record("2", " ADA@example.com ", 2, properties__amount="-1"),  # newer duplicate by email
    record("3", "not-an-email", 3),
    record("4", None, 4),
    record("5", "grace@example.com", 5, archived=True),
    record("6", "grace@example.com", 6, properties__phone="n/a", properties__lastname=None),
]


@pytest.fixture
def env(tmp_path):
    settings = duckdb_settings(tmp_path)
    warehouse = Warehouse.from_settings(settings)
    load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", RECORDS, TYPES)
    return settings, warehouse, MappingEngine(warehouse, settings), parse_mapping(MAPPING, "p.yaml")


def test_a_run_writes_rows_with_lineage_and_quarantines_rejects_with_their_rule(env):
    settings, warehouse, engine, spec = env
    result = engine.run(spec, integration_id="acme")

    assert (
        result.rows_in,
        result.rows_out,
        result.rows_quarantined,
        result.rows_deduplicated,
        result.rows_filtered,
    ) == (6, 2, 2, 1, 1)
    assert result.invariant_holds
    assert result.rejected_by_rule == {"email_invalid": 1, "email_required": 1}
    assert result.warnings_by_rule == {"amount_range": 1}
    rows = {r["_source_id"]: r for r in target_rows(warehouse, spec, "acme")}
    assert set(rows) == {"2", "6"}  # 2 is newer than 1 with the same normalised email
    assert rows["2"]["email"] == "ada@example.com" and rows["2"]["phone"] == "+12127365000"
    assert rows["2"]["full_name"] == "Ada Lovelace" and rows["6"]["full_name"] == "Ada"
    assert rows["6"]["phone"] is None
    assert rows["2"]["email_hash"] != rows["6"]["email_hash"]
    quarantine = {q["_source_id"]: q for q in quarantine_rows(warehouse, spec, "acme")}
    assert quarantine["3"]["rule"] == "email_invalid"
    assert '"properties__email":"not-an-email"' in quarantine["3"]["record"]
    assert quarantine["4"]["rule"] == "email_required"
    assert result.lineage["full_name"] == ["properties.firstname", "properties.lastname"]
    assert result.lineage["_source_id"] == ["id"]
    conn = warehouse.connect_readonly()
    try:
        lineage = conn.execute(
            "SELECT DISTINCT _source, _source_integration, _mapping FROM crm.people"
        ).fetchall()
    finally:
        conn.close()
    assert lineage == [("hubspot", "acme", "people")]


def test_a_rerun_replaces_only_its_own_slice(env):
    settings, warehouse, engine, spec = env
    load_raw_duckdb(warehouse, "hubspot", "other", "contacts", RECORDS[:2], TYPES)
    engine.run(spec, integration_id="acme")
    engine.run(spec, integration_id="other")
    second = parse_mapping(MAPPING.replace("name: people", "name: people_copy"), "c.yaml")
    engine.run(second, integration_id="acme")

    load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", RECORDS[:1], TYPES)
    again = engine.run(spec, integration_id="acme")

    assert (again.rows_in, again.rows_out, again.rows_quarantined) == (1, 1, 0)
    assert [r["_source_id"] for r in target_rows(warehouse, spec, "acme")] == ["1"]
    assert quarantine_rows(warehouse, spec, "acme") == []
    assert len(target_rows(warehouse, spec, "other")) == 1
    assert len(target_rows(warehouse, second, "acme")) == 2


def test_preview_shows_rows_and_rejects_and_writes_nothing(env):
    settings, warehouse, engine, spec = env
    before = warehouse.duckdb_path.read_bytes()

    preview = engine.preview(spec, integration_id="acme", limit=1)

    assert len(preview.rows) == 1 and preview.rows[0]["_source_id"] == "2"
    assert [r["rule"] for r in preview.rejects] == ["email_invalid"]
    assert preview.counts.rows_quarantined == 2 and preview.counts.invariant_holds
    assert warehouse.duckdb_path.read_bytes() == before
    assert not warehouse.table_exists("crm", "people")


def test_a_missing_raw_table_is_a_clear_error(env):
    settings, warehouse, engine, spec = env
    with pytest.raises(ValidationError, match="raw_hubspot_nobody.contacts does not exist"):
        engine.run(spec, integration_id="nobody")


def test_missing_source_columns_are_null_and_reported(env):
    settings, warehouse, engine, spec = env
    text = MAPPING.replace("{source: properties.amount,", "{source: properties.revenue,")
    result = engine.run(parse_mapping(text, "p.yaml"), integration_id="acme")
    assert result.missing_columns == ["properties.revenue"]
    assert all(r["amount"] is None for r in target_rows(warehouse, spec, "acme"))


def test_a_column_type_conflict_with_the_canonical_table_is_refused(env):
    settings, warehouse, engine, spec = env
    engine.run(spec, integration_id="acme")
    clash = parse_mapping(
        MAPPING.replace("name: people", "name: clash")
        .replace("type: decimal, precision: 10, scale: 2", "type: boolean")
        .replace("  - {rule: range, field: amount, min: 0, severity: warn}\n", ""),
        "clash.yaml",
    )
    with pytest.raises(MappingCompileError, match="crm.people.amount is DECIMAL"):
        engine.run(clash, integration_id="acme")


def test_the_hash_salt_never_appears_in_sql(env):
    settings, warehouse, engine, spec = env
    compiled = engine.compile(spec, integration_id="acme")
    assert SECRET not in compiled.result_sql()
    assert all(SECRET not in compiled.frame.distinct_inputs_sql(n) for n in compiled.nodes)


def test_a_run_whose_counts_do_not_add_up_writes_nothing(env, monkeypatch):
    settings, warehouse, engine, spec = env
    engine.run(spec, integration_id="acme")
    before = target_rows(warehouse, spec, "acme")
    register = WarehouseSession.register_lookup

    def duplicated(self, relation, keys, key_category, values, category, failed):
        # a broken lookup with every key twice multiplies rows in the join
        import pyarrow as pa

        keys = keys if isinstance(keys, pa.Array) else keys.combine_chunks()
        keys = pa.concat_arrays([keys] * 2)
        register(self, relation, keys, key_category, values * 2, category, failed * 2)

    monkeypatch.setattr(WarehouseSession, "register_lookup", duplicated)
    with pytest.raises(InvariantViolation, match="rows_in 6 !="):
        engine.run(spec, integration_id="acme")
    assert target_rows(warehouse, spec, "acme") == before


def test_python_work_is_timed_per_node(env):
    settings, warehouse, engine, spec = env
    result = engine.run(spec, integration_id="acme")
    labels = [n.label for n in result.python_nodes]
    assert "full_name: template" in labels
    assert result.udf_seconds >= 0 and result.seconds >= result.udf_seconds
    conn = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm'"
        ).fetchall()
    finally:
        conn.close()
    assert sorted(tables) == [("people",), ("people_quarantine",)]
