"""SQL building blocks for the two warehouse dialects (DuckDB, Postgres).

The compiler asks a `Dialect` for every piece of SQL that differs between the engines: literals,
types, regular expressions, safe casts, date arithmetic, lists, hashing. Nothing here runs SQL;
`conversion_sql` mirrors `mappings.types.convert` rule for rule.

Conventions inside compiled queries: datetimes are TIMESTAMPTZ in UTC (DuckDB sessions run with
TimeZone=UTC), strings compare by code point (Postgres uses COLLATE "C").
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from mappings.types import (
    WHITESPACE,
    DataType,
)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Dialect:
    """What differs between warehouse SQL dialects. One instance per dialect, stateless."""

    name = "generic"

    # --- types and literals -------------------------------------------------------------
    def sql_type(self, dtype: DataType) -> str:
        raise NotImplementedError

    def category_type(self, category: str) -> str:
        if category == "decimal":
            return self.sql_type(DataType("decimal", 38, 10))
        return self.sql_type(DataType(category))

    def null(self, category: str) -> str:
        return f"CAST(NULL AS {self.category_type(category)})"

    def literal(self, value: Any, category: str) -> str:
        if value is None:
            return self.null(category)
        if category == "string":
            return string_literal(str(value))
        if category == "boolean":
            return "TRUE" if value else "FALSE"
        if category == "integer":
            return f"CAST({int(value)} AS BIGINT)"
        if category == "decimal":
            return f"CAST({string_literal(str(Decimal(value)))} AS {self.category_type('decimal')})"
        if category == "float":
            return f"CAST({string_literal(repr(float(value)))} AS DOUBLE PRECISION)"
        if category == "date":
            assert isinstance(value, date)
            return f"CAST({string_literal(value.isoformat())} AS DATE)"
        if category == "datetime":
            assert isinstance(value, datetime)
            text = value.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"
            return f"CAST({string_literal(text)} AS {self.category_type('datetime')})"
        if category == "json":
            text = value if isinstance(value, str) else json.dumps(value)
            return f"CAST({string_literal(text)} AS {self.category_type('json')})"
        if category == "list":
            return self.string_list([str(v) for v in value])
        raise ValueError(f"no literal for {category}")

    def string_list(self, items: list[str]) -> str:
        raise NotImplementedError

    def cast(self, expr: str, sql_type: str) -> str:
        return f"CAST({expr} AS {sql_type})"

    # --- strings ------------------------------------------------------------------------
    def whitespace(self) -> str:
        """The trimmed characters as one literal (raw tab/newline inside the quotes)."""
        return string_literal(WHITESPACE)

    def trim(self, expr: str) -> str:
        raise NotImplementedError

    def full_match(self, expr: str, pattern: str) -> str:
        """TRUE when the whole of expr matches pattern ('.' matches newlines)."""
        raise NotImplementedError

    def contains_match(self, expr: str, pattern: str) -> str:
        raise NotImplementedError

    def replace_first(self, expr: str, pattern: str, replacement: str) -> str:
        raise NotImplementedError

    def remove_all(self, expr: str, pattern: str) -> str:
        raise NotImplementedError

    def match_groups(self, expr: str, pattern: str, count: int) -> str:
        """The capture groups of a full match of pattern, NULL when expr does not match."""
        raise NotImplementedError

    def group_at(self, groups: str, index: int) -> str:
        """Group `index` (1-based) of a `match_groups` value; NULL when it took no part."""
        raise NotImplementedError

    def compare_strings(self, left: str, op: str, right: str) -> str:
        return f"({left} {op} {right})"

    def order_key(self, expr: str, category: str) -> str:
        return expr

    def sha256_hex(self, expr: str) -> str:
        raise NotImplementedError

    def salt(self) -> str:
        """The session's hashing salt (set by the engine as a session variable, never inlined)."""
        raise NotImplementedError

    def json_key(self, exprs: list[str]) -> str:
        raise NotImplementedError

    def record_json(self, expr: str) -> str:
        raise NotImplementedError

    def row_locator(self, alias: str) -> str:
        """A value identifying a row of a base table (to join back to it)."""
        raise NotImplementedError

    def after_last(self, expr: str, separator: str) -> str:
        """The text after the last `separator` (all of it when there is none)."""
        raise NotImplementedError

    # --- lists --------------------------------------------------------------------------
    def split_list(self, expr: str, separator: str) -> str:
        raise NotImplementedError

    def join_list(self, expr: str, separator: str) -> str:
        raise NotImplementedError

    def list_length(self, expr: str) -> str:
        raise NotImplementedError

    # --- safe casts and time ------------------------------------------------------------
    def try_bigint(self, expr: str) -> str:
        raise NotImplementedError

    def try_double(self, expr: str) -> str:
        raise NotImplementedError

    def is_finite(self, expr: str) -> str:
        raise NotImplementedError

    def try_decimal(self, expr: str, precision: int, scale: int) -> str:
        raise NotImplementedError

    def try_timestamp(self, expr: str) -> str:
        """Naive TIMESTAMP from 'YYYY-MM-DD HH:MM:SS.ffffff'; NULL when not a real moment."""
        raise NotImplementedError

    def epoch_ms(self, expr: str) -> str:
        """Naive UTC TIMESTAMP from a BIGINT of milliseconds."""
        raise NotImplementedError

    def minus_minutes(self, ts: str, minutes: str) -> str:
        raise NotImplementedError

    def year(self, ts: str) -> str:
        raise NotImplementedError

    def utc(self, ts: str) -> str:
        """Naive UTC TIMESTAMP -> TIMESTAMPTZ."""
        raise NotImplementedError

    def utc_date(self, tstz: str) -> str:
        raise NotImplementedError

    def iso_utc(self, tstz: str) -> str:
        raise NotImplementedError

    def date_to_tstz(self, expr: str) -> str:
        raise NotImplementedError

    def session_setup(self) -> list[str]:
        return []


class DuckDBDialect(Dialect):
    name = "duckdb"

    _TYPES = {
        "string": "VARCHAR",
        "integer": "BIGINT",
        "float": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "datetime": "TIMESTAMPTZ",
        "json": "JSON",
        "list": "VARCHAR[]",
    }

    def sql_type(self, dtype: DataType) -> str:
        if dtype.name == "decimal":
            return f"DECIMAL({dtype.precision},{dtype.scale})"
        return self._TYPES[dtype.name]

    def string_list(self, items: list[str]) -> str:
        return "CAST([" + ", ".join(string_literal(i) for i in items) + "] AS VARCHAR[])"

    def trim(self, expr: str) -> str:
        # trim() with a character set is costly in DuckDB; most values need no trimming, and
        # looking at the first and last character first is four times cheaper overall
        edges = "(" + ", ".join(string_literal(c) for c in WHITESPACE) + ")"
        return (
            f"CASE WHEN substr({expr}, 1, 1) IN {edges} OR substr({expr}, length({expr}), 1) "
            f"IN {edges} THEN trim({expr}, {self.whitespace()}) ELSE {expr} END"
        )

    def full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, {string_literal('(?s)' + pattern)})"

    def contains_match(self, expr: str, pattern: str) -> str:
        return f"regexp_matches({expr}, {string_literal('(?s)' + pattern)})"

    def replace_first(self, expr: str, pattern: str, replacement: str) -> str:
        return (
            f"regexp_replace({expr}, {string_literal('(?s)' + pattern)}, "
            f"{string_literal(replacement)})"
        )

    def remove_all(self, expr: str, pattern: str) -> str:
        return f"regexp_replace({expr}, {string_literal(pattern)}, '', 'g')"

    def match_groups(self, expr: str, pattern: str, count: int) -> str:
        names = ", ".join(f"'g{i}'" for i in range(1, count + 1))
        anchored = string_literal("(?s)^(?:" + pattern + ")")
        return (
            f"CASE WHEN {self.full_match(expr, pattern)} "
            f"THEN regexp_extract({expr}, {anchored}, [{names}]) END"
        )

    def group_at(self, groups: str, index: int) -> str:
        return f"NULLIF(struct_extract({groups}, 'g{index}'), '')"

    def sha256_hex(self, expr: str) -> str:
        return f"sha256({expr})"

    def salt(self) -> str:
        return "getvariable('mapping_salt')"

    def json_key(self, exprs: list[str]) -> str:
        return f"CAST(json_array({', '.join(exprs)}) AS VARCHAR)"

    def record_json(self, expr: str) -> str:
        return f"CAST(to_json({expr}) AS VARCHAR)"

    def row_locator(self, alias: str) -> str:
        return f"{alias}.rowid"

    def after_last(self, expr: str, separator: str) -> str:
        return f"string_split({expr}, {string_literal(separator)})[-1]"

    def split_list(self, expr: str, separator: str) -> str:
        ws = self.whitespace()
        return (
            f"list_filter(list_transform(string_split({expr}, {string_literal(separator)}), "
            f"lambda __s: trim(__s, {ws})), lambda __s: __s <> '')"
        )

    def join_list(self, expr: str, separator: str) -> str:
        return f"array_to_string({expr}, {string_literal(separator)})"

    def list_length(self, expr: str) -> str:
        return f"len({expr})"

    def try_bigint(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS BIGINT)"

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def is_finite(self, expr: str) -> str:
        return f"isfinite({expr})"

    def try_decimal(self, expr: str, precision: int, scale: int) -> str:
        return f"TRY_CAST({expr} AS DECIMAL({precision},{scale}))"

    def try_timestamp(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS TIMESTAMP)"

    def epoch_ms(self, expr: str) -> str:
        return f"epoch_ms(CAST({expr} AS BIGINT))"

    def minus_minutes(self, ts: str, minutes: str) -> str:
        return f"({ts} - to_minutes(CAST({minutes} AS BIGINT)))"

    def year(self, ts: str) -> str:
        return f"year({ts})"

    def utc(self, ts: str) -> str:
        return f"CAST({ts} AS TIMESTAMPTZ)"

    def utc_date(self, tstz: str) -> str:
        return f"CAST({tstz} AS DATE)"

    def iso_utc(self, tstz: str) -> str:
        return f"strftime({tstz}, '%Y-%m-%dT%H:%M:%S.%fZ')"

    def date_to_tstz(self, expr: str) -> str:
        return f"CAST(CAST({expr} AS TIMESTAMP) AS TIMESTAMPTZ)"

    def session_setup(self) -> list[str]:
        # results are sets: letting DuckDB reorder rows makes windows and inserts cheaper
        return ["SET TimeZone = 'UTC'", "SET preserve_insertion_order = false"]


# Postgres has no TRY_CAST: small pg_temp functions turn a cast error into NULL.
_PG_TRY_FUNCTIONS = {
    "mp_try_bigint": "bigint",
    "mp_try_numeric": "numeric",
    "mp_try_float8": "double precision",
    "mp_try_timestamp": "timestamp",
}


class PostgresDialect(Dialect):
    name = "postgres"

    _TYPES = {
        "string": "text",
        "integer": "bigint",
        "float": "double precision",
        "boolean": "boolean",
        "date": "date",
        "datetime": "timestamptz",
        "json": "jsonb",
        "list": "text[]",
    }

    def sql_type(self, dtype: DataType) -> str:
        if dtype.name == "decimal":
            return f"numeric({dtype.precision},{dtype.scale})"
        return self._TYPES[dtype.name]

    def string_list(self, items: list[str]) -> str:
        return "CAST(ARRAY[" + ", ".join(string_literal(i) for i in items) + "]::text[] AS text[])"

    def trim(self, expr: str) -> str:
        return f"btrim({expr}, {self.whitespace()})"

    def full_match(self, expr: str, pattern: str) -> str:
        return f"({expr} ~ {string_literal('^(?:' + pattern + ')$')})"

    def contains_match(self, expr: str, pattern: str) -> str:
        return f"({expr} ~ {string_literal(pattern)})"

    def replace_first(self, expr: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({expr}, {string_literal(pattern)}, {string_literal(replacement)})"

    def remove_all(self, expr: str, pattern: str) -> str:
        return f"regexp_replace({expr}, {string_literal(pattern)}, '', 'g')"

    def match_groups(self, expr: str, pattern: str, count: int) -> str:
        return f"regexp_match({expr}, {string_literal('^(?:' + pattern + ')$')})"

    def group_at(self, groups: str, index: int) -> str:
        return f"NULLIF(({groups})[{index}], '')"

    def compare_strings(self, left: str, op: str, right: str) -> str:
        return f'({left} COLLATE "C" {op} {right} COLLATE "C")'

    def order_key(self, expr: str, category: str) -> str:
        return f'{expr} COLLATE "C"' if category == "string" else expr

    def sha256_hex(self, expr: str) -> str:
        return f"encode(sha256(convert_to({expr}, 'UTF8')), 'hex')"

    def salt(self) -> str:
        return "current_setting('mapping.salt')"

    def json_key(self, exprs: list[str]) -> str:
        return f"CAST(json_build_array({', '.join(exprs)}) AS text)"

    def record_json(self, expr: str) -> str:
        return f"CAST(to_jsonb({expr}) AS text)"

    def row_locator(self, alias: str) -> str:
        return f"{alias}.ctid"

    def after_last(self, expr: str, separator: str) -> str:
        return f"split_part({expr}, {string_literal(separator)}, -1)"

    def split_list(self, expr: str, separator: str) -> str:
        ws = self.whitespace()
        return (
            f"CASE WHEN {expr} IS NULL THEN NULL ELSE ARRAY(SELECT btrim(__s, {ws}) FROM "
            f"unnest(string_to_array({expr}, {string_literal(separator)})) WITH ORDINALITY "
            f"AS __u(__s, __n) WHERE btrim(__s, {ws}) <> '' ORDER BY __n) END"
        )

    def join_list(self, expr: str, separator: str) -> str:
        return f"array_to_string({expr}, {string_literal(separator)})"

    def list_length(self, expr: str) -> str:
        return f"cardinality({expr})"

    def try_bigint(self, expr: str) -> str:
        return f"pg_temp.mp_try_bigint({expr})"

    def try_double(self, expr: str) -> str:
        return f"pg_temp.mp_try_float8({expr})"

    def is_finite(self, expr: str) -> str:
        return f"({expr} NOT IN ('Infinity'::float8, '-Infinity'::float8, 'NaN'::float8))"

    def try_decimal(self, expr: str, precision: int, scale: int) -> str:
        rounded = f"round(pg_temp.mp_try_numeric({expr}), {scale})"
        limit = f"1{'0' * (precision - scale)}"
        return (
            f"CAST(CASE WHEN abs({rounded}) < {limit} THEN {rounded} END "
            f"AS numeric({precision},{scale}))"
        )

    def try_timestamp(self, expr: str) -> str:
        return f"pg_temp.mp_try_timestamp({expr})"

    def epoch_ms(self, expr: str) -> str:
        return f"(TIMESTAMP '1970-01-01' + CAST({expr} AS BIGINT) * INTERVAL '1 millisecond')"

    def minus_minutes(self, ts: str, minutes: str) -> str:
        return f"({ts} - CAST({minutes} AS BIGINT) * INTERVAL '1 minute')"

    def year(self, ts: str) -> str:
        return f"extract(year FROM {ts})"

    def utc(self, ts: str) -> str:
        return f"({ts} AT TIME ZONE 'UTC')"

    def utc_date(self, tstz: str) -> str:
        return f"CAST(({tstz} AT TIME ZONE 'UTC') AS date)"

    def iso_utc(self, tstz: str) -> str:
        return f"""to_char({tstz} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

    def date_to_tstz(self, expr: str) -> str:
        return f"(CAST({expr} AS timestamp) AT TIME ZONE 'UTC')"

    def session_setup(self) -> list[str]:
        statements = ["SET TIME ZONE 'UTC'"]
        for name, sql_type in _PG_TRY_FUNCTIONS.items():
            statements.append(
                f"CREATE OR REPLACE FUNCTION pg_temp.{name}(t text) RETURNS {sql_type} "
                f"LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN t::{sql_type}; "
                "EXCEPTION WHEN others THEN RETURN NULL; END $$"
            )
        return statements


DIALECTS: dict[str, Dialect] = {"duckdb": DuckDBDialect(), "postgres": PostgresDialect()}
