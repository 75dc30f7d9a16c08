"""Data types: the conversion rules (reference semantics) and the SQL that implements them on
DuckDB, compared input by input over tricky text."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from mappings import FAILED
from mappings.spec import parse_mapping
from mappings.types import DataType, convert, parse_datetime
from tests.unit.test_mapping_support import engine_and_reference, one_column_records

TRICKY = {
    "integer": [
        "12",
        " 7 ",
        "-3",
        "+5",
        "007",
        "1.0",
        "1e3",
        "12abc",
        "1_000",
        "9223372036854775807",
        "9223372036854775808",
        "",
        "  ",
        None,
    ],
    "decimal": [
        "1.005",
        "1.015",
        "-1.005",
        "1.",
        ".5",
        "+1.5",
        "99.995",
        "999.99",
        "1000",
        "1e2",
        "0.0000001",
        "000000000000000000000000000001.555",
        "abc",
        "",
    ],
    "float": ["1.5", "-0.25", "1e3", "2.5E-3", ".5", "5.", "1e999", "inf", "NaN", "1,5", ""],
    "boolean": ["true", "FALSE", " yes ", "N", "1", "0", "on", "Off", "t", "maybe", ""],
    "date": [
        "2024-01-15",
        "2024-02-29",
        "2023-02-29",
        "2024-01-15T23:30:00-02:00",
        "1700000000000",
        "15/01/2024",
        "0000-01-01",
        "",
    ],
    "datetime": [
        "2024-01-15",
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30:00.5+02:00",
        "2024-01-15 10:30:00.123456789-0530",
        "2024-01-15T10:30+01",
        "2024-01-15t10:30:00z",
        "2024-01-15T24:00:00Z",
        "2024-01-15T10:60:00Z",
        "2024-01-15T10:30:00+24:00",
        "2024-13-01T00:00:00Z",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:00:00-05:00",
        "1700000000000",
        "-86400000",
        "999999999999999",
        "2024-01-15T10:30:00 Z",
        "Jan 15 2024",
        "2024-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-01-15T23:59:59.999999Z",
        "2024-01-15T10:30:00.1234567Z",
        "2024-01-15T10:30:00.123Z ",
        "",
    ],
    "json": ['{"a": [1, 2]}', "[1,]", "NaN", "3", '"x"', "null", "{", " [ ] ", ""],
    "list": ["a;b", " a ; ;b;", ";", "x", ""],
    "string": ["  keep spaces  ", "", "é"],
}


@pytest.mark.parametrize("type_", sorted(TRICKY))
def test_sql_conversions_equal_the_reference_on_tricky_text(tmp_path, type_):
    text = f"""
source: {{provider: hubspot, table: contacts}}
target: crm.things
fields:
  value:
    source: properties.value
    type: {type_}
    {"precision: 5" if type_ == "decimal" else ""}
    {"scale: 2" if type_ == "decimal" else ""}
    on_error: reject
"""
    spec = parse_mapping(text, "types.yaml")
    result, rows, expected = engine_and_reference(
        tmp_path, spec, *one_column_records(TRICKY[type_])
    )
    assert rows == expected
    assert result.rows_out + result.rows_quarantined == len(TRICKY[type_])


def test_datetimes_are_normalised_to_utc_from_offsets_and_epoch_milliseconds():
    assert parse_datetime("2024-01-15T10:30:00+02:00") == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert parse_datetime("2024-01-15T10:30-0530") == datetime(2024, 1, 15, 16, 0, tzinfo=UTC)
    assert parse_datetime("1700000000000") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_datetime("2024-01-15") == datetime(2024, 1, 15, tzinfo=UTC)
    assert parse_datetime("2024-01-15T10:30:00.1234567Z").microsecond == 123456
    assert parse_datetime("2024-02-30T00:00:00Z") is FAILED
    assert parse_datetime("0001-01-01T00:30:00+01:00") is FAILED


def test_decimals_round_half_away_from_zero_and_fail_beyond_their_precision():
    money = DataType("decimal", 5, 2)
    assert convert("1.005", "string", money) == Decimal("1.01")
    assert convert("-1.005", "string", money) == Decimal("-1.01")
    assert convert("999.994", "string", money) == Decimal("999.99")
    assert convert("999.995", "string", money) is FAILED


def test_empty_text_is_null_for_typed_fields_but_kept_for_text():
    assert convert("  ", "string", DataType("integer")) is None
    assert convert("  ", "string", DataType("string")) == "  "


def test_other_conversions():
    assert convert(" Yes ", "string", DataType("boolean")) is True
    assert convert("maybe", "string", DataType("boolean")) is FAILED
    assert convert("2024-01-15T23:30:00-02:00", "string", DataType("date")) == date(2024, 1, 16)
    assert convert(" a ; ;b;", "string", DataType("list")) == ["a", "b"]
    assert json.loads(convert('{"a": [1, 2]}', "string", DataType("json"))) == {"a": [1, 2]}
    assert convert("NaN", "string", DataType("json")) is FAILED
    assert convert(True, "boolean", DataType("string")) == "true"
    moment = datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert convert(moment, "datetime", DataType("string")) == "2024-01-15T08:30:00.000000Z"
