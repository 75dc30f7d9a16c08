"""The condition language: parsing and type errors, SQL's three-valued logic in Python, and the
SQL it compiles to giving the same answers on DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mappings.expressions import ExpressionError, parse
from mappings.spec import parse_mapping
from tests.unit.test_mapping_support import engine_and_reference, one_column_records

TYPES = {"a": "string", "n": "integer", "flag": "boolean", "at": "datetime", "x": "decimal"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = ", "unexpected 'end of expression'"),
        ("a = 'x' and", "unexpected 'end of expression'"),
        ("a === 'x'", "unexpected '='"),
        ("a = 1", "cannot compare string with integer"),
        ("flag < true", "booleans compare with = and != only"),
        ("b = 'x'", "unknown name 'b'"),
        ("lower(n) = 'x'", "lower takes text, not integer"),
        ("shout(a) = 'x'", "unknown function 'shout'"),
        ("at > 'yesterday'", "'yesterday' is not a valid datetime"),
        ("a", "the expression is string, not a condition"),
        ("a in (null)", "in (...) takes non-null literals only"),
        ("a = 'x' ; drop table", "unexpected character ';'"),
    ],
)
def test_mistakes_are_explained(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text, TYPES)


def evaluate(text: str, **values):
    return parse(text, TYPES).evaluate(values)


def test_comparisons_with_null_are_null_and_logic_is_kleene():
    assert evaluate("a = 'x'", a=None) is None
    assert evaluate("a = 'x' or n > 1", a=None, n=2) is True
    assert evaluate("a = 'x' and n > 1", a=None, n=0) is False
    assert evaluate("a = 'x' and n > 1", a=None, n=2) is None
    assert evaluate("not (a = 'x')", a=None) is None
    assert evaluate("a is null", a=None) is True
    assert evaluate("a not in ('x', 'y')", a="z") is True
    assert evaluate("a in ('x', 'y')", a=None) is None


def test_functions_and_literal_coercion():
    assert evaluate("length(trim(a)) = 3", a=" abc ") is True
    assert evaluate("coalesce(a, 'd') = 'd'", a=None) is True
    assert evaluate("integer(a) >= 5", a="7") is True
    assert evaluate("integer(a) >= 5", a="seven") is None
    at = datetime(2024, 1, 15, 9, tzinfo=UTC)
    assert evaluate("at < '2024-01-15T10:00:00+00:00'", at=at) is True
    assert evaluate("x > 1 and n < 2.5", x=Decimal("1.5"), n=2) is True
    assert evaluate("flag = true or not flag", flag=False) is True


@pytest.mark.parametrize(
    "where",
    [
        "properties.value = 'ada'",
        "properties.value <> 'ada'",
        "properties.value < 'b'",
        "properties.value in ('ada', 'Ada', '')",
        "properties.value not in ('ada')",
        "properties.value is null or length(properties.value) > 3",
        "lower(trim(properties.value)) = 'ada'",
        "upper(properties.value) >= 'B' and not (properties.value = 'zed')",
        "integer(properties.value) > 2",
        "decimal(properties.value) <= 2.5",
        "datetime(properties.value) >= '2024-01-01'",
        "date(properties.value) = '2024-01-15'",
        "boolean(properties.value)",
        "coalesce(properties.value, 'none') = 'none'",
        "updated_at > '2024-01-01T12:00:00Z'",
    ],
)
def test_sql_filters_keep_the_rows_the_reference_keeps(tmp_path, where):
    values = [
        "ada",
        "Ada",
        " ada ",
        "",
        None,
        "bob",
        "zed",
        "é",
        "3",
        "2.5",
        "yes",
        "no",
        "2024-01-15T10:00:00+01:00",
        "2023-12-31",
        "1704067200000",
        "B",
    ]
    records, types = one_column_records(values)
    for i, record in enumerate(records):
        record["updated_at"] = datetime(2024, 1, 1, i, tzinfo=UTC)
    text = f"""
source: {{provider: hubspot, table: contacts}}
target: crm.things
where: "{where}"
fields:
  value: {{source: properties.value}}
"""
    spec = parse_mapping(text, "where.yaml")
    result, rows, expected = engine_and_reference(tmp_path, spec, records, types)
    assert rows == expected
    assert result.rows_filtered == len(values) - len(rows)
