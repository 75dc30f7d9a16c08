"""Values nulled by conversion are counted per field in every run, and `on_error: warn` keeps
the row (field NULL) while a quarantine row of severity warn records the value: on DuckDB and
on Postgres, equal to the reference interpreter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import Settings
from destinations.warehouse import Warehouse
from mappings import MappingEngine, MappingFileError, parse_mapping
from mappings.functions import FunctionContext
from mappings.reference import run_reference
from tests.unit.test_mapping_support import (
    SECRET,
    duckdb_settings,
    load_raw_duckdb,
    load_raw_postgres,
    quarantine_entry,
    quarantine_rows,
    target_rows,
)

MAPPING = """\
name: people
source: {provider: hubspot, table: contacts}
target: crm.people
fields:
  email: {source: properties.email, functions: [email_normalize], on_error: reject}
  phone: {source: properties.phone, functions: [phone_normalize], on_error: ON_ERROR}
  score: {source: properties.score, type: integer}
  stamp: {source: properties.stamp, type: datetime, on_error: default, default: "2000-01-01"}
"""
TYPES = {
    "id": "string",
    "updated_at": "datetime",
    "properties__email": "string",
    "properties__phone": "string",
    "properties__score": "string",
    "properties__stamp": "string",
}
T = datetime(2024, 1, 1, tzinfo=UTC)
RECORDS = [
    # id, email, phone, score, stamp
    ("1", "ada@example.com", "(617) 555-0123", "7", "2024-01-01"),
    ("2", "bob@example.com", "call me", "seven", "not a date"),  # phone, score nulled
    ("3", "cy@example.com", None, None, None),  # nothing to null
    ("4", "di@example.com", "   ", "", ""),  # blank text is null, not a failure
    ("5", "ed@example.com", "+1 999 555 0123", "12", None),  # invalid area code: nulled
    ("6", "not an address", "nope", "x", None),  # rejected: its nulls never land
    ("7", "fay@example.com", "+44 20 7946 0958", "-3", None),
]


def records() -> list[dict]:
    return [
        {
            "id": i,
            "updated_at": T,
            "properties__email": e,
            "properties__phone": p,
            "properties__score": s,
            "properties__stamp": d,
        }
        for i, e, p, s, d in RECORDS
    ]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path: Path) -> tuple[Warehouse, Settings]:
    """An empty warehouse of each kind with the raw contacts of RECORDS loaded."""
    if request.param == "duckdb":
        settings = duckdb_settings(tmp_path, PHONE_DEFAULT_REGION="US")
        warehouse = Warehouse.from_settings(settings)
        load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", records(), TYPES)
    else:
        url = request.getfixturevalue("postgres_url")
        settings = duckdb_settings(
            tmp_path, WAREHOUSE="postgres", WAREHOUSE_POSTGRES_URL=url, PHONE_DEFAULT_REGION="US"
        )
        warehouse = Warehouse.from_settings(settings)
        load_raw_postgres(url, "hubspot", "acme", "contacts", records(), TYPES)
    return warehouse, settings


def spec_with(on_error: str):
    return parse_mapping(MAPPING.replace("ON_ERROR", on_error), "people.yaml")


def reference(spec):
    return run_reference(
        spec, records(), types=TYPES, context=FunctionContext(phone_region="US", salt=SECRET)
    )


def test_values_nulled_by_conversion_are_counted_per_field_not_inputs_already_null(backend):
    warehouse, settings = backend
    spec = spec_with("null")

    result = MappingEngine(warehouse, settings).run(spec, integration_id="acme")

    # rows out: 1 2 3 4 5 7 (6 rejected for its e-mail: its failures never reach the target)
    assert (result.rows_out, result.rows_quarantined) == (6, 1)
    assert result.nulled_by_field == {"phone": 2, "score": 1}  # 2 and 5; 2
    assert result.inputs_by_field == {"phone": 4, "score": 4}  # 1 2 5 7; 1 2 5 7
    assert result.nulled_ratio("phone") == 0.5
    assert result.values_nulled == 3
    assert "stamp" not in result.nulled_by_field  # on_error: default never nulls
    expected = reference(spec)
    assert (result.nulled_by_field, result.inputs_by_field) == (
        expected.nulled_by_field,
        expected.inputs_by_field,
    )
    # on_error: null writes no quarantine row for them
    assert [q["rule"] for q in quarantine_rows(warehouse, spec, "acme")] == ["email_invalid"]
    rows = {r["_source_id"]: r for r in target_rows(warehouse, spec, "acme")}
    assert rows["2"]["phone"] is None and rows["2"]["score"] is None


def test_on_error_warn_lands_the_row_with_null_and_quarantines_the_value_as_warn(backend):
    warehouse, settings = backend
    spec = spec_with("warn")
    engine = MappingEngine(warehouse, settings)

    engine.run(spec, integration_id="acme")
    result = engine.run(spec, integration_id="acme")  # a rerun replaces, never duplicates

    rows = {r["_source_id"]: r for r in target_rows(warehouse, spec, "acme")}
    assert sorted(rows) == ["1", "2", "3", "4", "5", "7"]
    assert rows["2"]["phone"] is None and rows["5"]["phone"] is None
    assert rows["1"]["phone"] == "+16175550123"
    assert result.rows_quarantined == 1  # rejected rows only: the invariant is unchanged
    assert result.invariant_holds
    assert result.nulled_by_field == {"phone": 2, "score": 1}
    assert result.quarantine_warnings_by_field == {"phone": 2}
    quarantine = sorted(quarantine_entry(q) for q in quarantine_rows(warehouse, spec, "acme"))
    reason = "phone: value could not be converted (phone_normalize / string)"
    assert quarantine == [
        ("2", "phone_invalid", reason, "warn", "phone", "call me"),
        ("5", "phone_invalid", reason, "warn", "phone", "+1 999 555 0123"),
        ("6", "email_invalid", "email: value could not be converted (email_normalize / string)",
         "reject", None, None),
    ]  # fmt: skip
    # the record column holds the raw row of warnings too
    records_by_id = {q["_source_id"]: q["record"] for q in quarantine_rows(warehouse, spec, "acme")}
    assert "call me" in records_by_id["2"]
    assert quarantine == sorted(quarantine_entry(q) for q in reference(spec).quarantined)


def test_on_error_warn_records_the_branch_value_a_when_took(tmp_path):
    spec = parse_mapping(
        """\
name: people
source: {provider: hubspot, table: contacts}
target: crm.people
fields:
  phone:
    when: "properties.score = 'mobile'"
    then: {source: properties.phone, functions: [phone_normalize]}
    else: {source: properties.email, functions: [phone_normalize]}
    on_error: warn
""",
        "people.yaml",
    )
    settings = duckdb_settings(tmp_path, PHONE_DEFAULT_REGION="US")
    warehouse = Warehouse.from_settings(settings)
    data = [
        {"id": "1", "updated_at": T, "properties__score": "mobile",
         "properties__phone": "oops", "properties__email": "x"},
        {"id": "2", "updated_at": T, "properties__score": "other",
         "properties__phone": "617 555 0123", "properties__email": "no phone"},
    ]  # fmt: skip
    load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", data, TYPES)

    MappingEngine(warehouse, settings).run(spec, integration_id="acme")

    values = sorted((q["_source_id"], q["value"]) for q in quarantine_rows(warehouse, spec, "acme"))
    assert values == [("1", "oops"), ("2", "no phone")]
    expected = run_reference(spec, data, types=TYPES, context=FunctionContext(phone_region="US"))
    assert values == sorted((q["_source_id"], q["value"]) for q in expected.quarantined)


def test_nulled_ratio_thresholds_per_mapping_and_field_and_where_they_apply():
    spec = parse_mapping(
        MAPPING.replace("ON_ERROR", "warn, max_nulled_ratio: 0.5").replace(
            "fields:", "settings: {max_nulled_ratio: 0.2}\nfields:"
        ),
        "people.yaml",
    )
    assert spec.max_nulled_ratio("phone") == 0.5
    assert spec.max_nulled_ratio("score") == 0.2
    assert spec.nulling_fields() == ["phone", "score"]
    assert spec_with("null").max_nulled_ratio("score") == 0.05  # the default
    with pytest.raises(
        MappingFileError, match="max_nulled_ratio applies to on_error: null or warn"
    ):
        parse_mapping(MAPPING.replace("ON_ERROR", "reject, max_nulled_ratio: 0.5"), "p.yaml")
    with pytest.raises(MappingFileError, match="0 is not a datetime"):  # not an AttributeError
        parse_mapping(MAPPING.replace('"2000-01-01"', "0").replace("ON_ERROR", "warn"), "p.yaml")
    with pytest.raises(MappingFileError, match="less than or equal to 1"):
        parse_mapping(MAPPING.replace("ON_ERROR", "warn, max_nulled_ratio: 2"), "p.yaml")
