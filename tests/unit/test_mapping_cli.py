"""`platform mappings validate` and `platform mappings preview`, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from destinations.warehouse import Warehouse
from tests.unit.test_mapping_engine import MAPPING, RECORDS, TYPES
from tests.unit.test_mapping_support import duckdb_settings, load_raw_duckdb

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


def invoke(args, env):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_validate_accepts_the_shipped_mappings(tmp_path):
    result = invoke(["mappings", "validate", str(SHIPPED)], {"DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "hubspot_contacts -> crm.contacts" in result.output


def test_validate_prints_file_line_field_and_exits_1(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(MAPPING)
    bad = tmp_path / "bad.yaml"
    bad.write_text(MAPPING.replace("functions: [trim, empty_to_null]}", "functions: [trimm]}", 1))
    result = invoke(["mappings", "validate", str(good), str(bad)], {"DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"ok {good}" in result.output
    assert f"{bad}:10: fields.first_name.functions[0]: unknown function 'trimm'" in result.output


def test_preview_prints_rows_and_rejects_from_the_warehouse(tmp_path):
    settings = duckdb_settings(tmp_path)
    warehouse = Warehouse.from_settings(settings)
    load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", RECORDS, TYPES)
    path = tmp_path / "people.yaml"
    path.write_text(MAPPING)
    env = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "k"}

    table = invoke(["mappings", "preview", str(path), "--integration", "acme", "-n", "5"], env)
    as_json = invoke(["mappings", "preview", str(path), "--integration", "acme", "--json"], env)

    assert table.exit_code == 0, table.output
    assert (
        "6 in, 2 out, 2 quarantined, 1 deduplicated, 1 filtered (nothing written)" in table.output
    )
    assert "3  email_invalid: email: value could not be converted" in table.output
    payload = json.loads(as_json.output)
    assert [r["_source_id"] for r in payload["rows"]] == ["2", "6"]
    assert payload["counts"]["warnings"] == {"amount_range": 1}
    assert not warehouse.table_exists("crm", "people")


def test_preview_without_raw_data_fails_cleanly(tmp_path):
    path = tmp_path / "people.yaml"
    path.write_text(MAPPING)
    args = ["mappings", "preview", str(path), "--integration", "ghost"]
    env = {"DATA_DIR": str(tmp_path)}
    no_warehouse = CliRunner().invoke(main, args, env=env)
    assert no_warehouse.exit_code == 1 and "does not exist yet" in no_warehouse.output
    load_raw_duckdb(
        Warehouse.from_settings(duckdb_settings(tmp_path)),
        "hubspot",
        "acme",
        "contacts",
        RECORDS,
        TYPES,
    )
    no_table = CliRunner().invoke(main, args, env=env)
    assert no_table.exit_code == 1
    assert "raw_hubspot_ghost.contacts does not exist" in no_table.output
