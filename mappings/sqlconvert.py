"""Type conversions in SQL, rule for rule the same as `mappings.types.convert`.

Conversions are written against a small builder so the compiler can materialise intermediate
values as columns (each regular expression runs once per row), while conditions inline them.
`failed` is TRUE exactly where the Python conversion returns FAILED, and never NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mappings.sqlgen import Dialect, string_literal
from mappings.types import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    DATETIME_PATTERN,
    DECIMAL_PATTERN,
    EPOCH_MS_PATTERN,
    FLOAT_PATTERN,
    INTEGER_PATTERN,
    DataType,
)

# a subset of DATETIME_PATTERN: 2024-01-15T10:30:00(.123)Z with in-range time fields
PLAIN_UTC_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z"
)


class Ref(Protocol):
    @property
    def ref(self) -> str: ...


class Builder(Protocol):
    dialect: Dialect

    def col(self, sql: str, *deps: Ref, category: str) -> Ref: ...


@dataclass(frozen=True)
class Inline:
    ref: str
    category: str = ""


class InlineBuilder:
    """Builds one expression (subexpressions repeat; fine for conditions)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def col(self, sql: str, *deps: Ref, category: str) -> Ref:
        return Inline(f"({sql})", category)


def convert_expression(dialect: Dialect, expr: str, source: str, target: DataType) -> str:
    """Null-on-failure conversion as one SQL expression."""
    value, _failed = convert(InlineBuilder(dialect), Inline(expr), source, target)
    return value.ref


def convert(b: Builder, x: Ref, source: str, target: DataType) -> tuple[Ref, Ref | None]:
    """(value, failed) for converting x of category `source` to `target`; failed None = never."""
    d = b.dialect
    name = target.name
    if source == "null":
        return b.col(f"CAST(NULL AS {d.sql_type(target)})", category=name), None
    if source == name and name not in ("decimal", "datetime"):
        return x, None
    if source == "string" and name != "string":
        text = b.col(f"NULLIF({d.trim(x.ref)}, '')", x, category="string")
        value = _from_text(b, text, target)
        failed = b.col(
            f"({text.ref} IS NOT NULL AND {value.ref} IS NULL)", text, value, category="boolean"
        )
        return value, failed
    value = b.col(_from_typed(d, x.ref, source, target), x, category=name)
    if source == name == "datetime" or (source == "date" and name == "datetime"):
        return value, None
    failed = b.col(f"({x.ref} IS NOT NULL AND {value.ref} IS NULL)", x, value, category="boolean")
    return value, failed


def _from_text(b: Builder, t: Ref, target: DataType) -> Ref:
    d = b.dialect
    name = target.name
    if name == "integer":
        sql = f"CASE WHEN {d.full_match(t.ref, INTEGER_PATTERN)} THEN {d.try_bigint(t.ref)} END"
    elif name == "decimal":
        cast = d.try_decimal(t.ref, target.precision, target.scale)
        sql = f"CASE WHEN {d.full_match(t.ref, DECIMAL_PATTERN)} THEN {cast} END"
    elif name == "float":
        number = d.try_double(t.ref)
        sql = (
            f"CASE WHEN {d.full_match(t.ref, FLOAT_PATTERN)} AND {d.is_finite(number)} "
            f"THEN {number} END"
        )
    elif name == "boolean":
        lowered = f"lower({t.ref})"
        trues = ", ".join(string_literal(v) for v in BOOLEAN_TRUE)
        falses = ", ".join(string_literal(v) for v in BOOLEAN_FALSE)
        sql = (
            f"CASE WHEN {lowered} IN ({trues}) THEN TRUE "
            f"WHEN {lowered} IN ({falses}) THEN FALSE END"
        )
    elif name == "datetime":
        return datetime_from_text(b, t)
    elif name == "date":
        moment = datetime_from_text(b, t)
        sql = d.utc_date(moment.ref)
        return b.col(sql, moment, category="date")
    elif name == "list":
        sql = d.split_list(t.ref, target.separator)
    else:
        raise ValueError(f"no SQL conversion from text to {name}")
    return b.col(sql, t, category=name)


def datetime_from_text(b: Builder, t: Ref) -> Ref:
    """TIMESTAMPTZ (UTC) from ISO 8601 text or epoch milliseconds; NULL when not valid."""
    d = b.dialect
    # the shape most APIs send (UTC, 'Z') is cast directly; it parses the same way
    plain = b.col(d.full_match(t.ref, PLAIN_UTC_PATTERN), t, category="boolean")
    m = b.col(
        f"CASE WHEN NOT {plain.ref} THEN {d.match_groups(t.ref, DATETIME_PATTERN, 8)} END",
        t,
        plain,
        category="groups",
    )

    def g(i: int) -> str:
        return d.group_at(m.ref, i)

    stamp = (
        f"concat({g(1)}, '-', {g(2)}, '-', {g(3)}, ' ', coalesce({g(4)}, '00'), ':', "
        f"coalesce({g(5)}, '00'), ':', coalesce({g(6)}, '00'), '.', "
        f"rpad(coalesce(substr({g(7)}, 1, 6), ''), 6, '0'))"
    )
    zulu = f"({g(8)} IS NULL OR upper({g(8)}) = 'Z')"
    offset = f"replace({g(8)}, ':', '')"
    off_hours = f"CAST(substr({offset}, 2, 2) AS INTEGER)"
    off_minutes = f"CAST(coalesce(NULLIF(substr({offset}, 4, 2), ''), '0') AS INTEGER)"
    signed_minutes = (
        f"CASE WHEN {zulu} THEN 0 WHEN substr({g(8)}, 1, 1) = '-' "
        f"THEN -({off_hours} * 60 + {off_minutes}) ELSE {off_hours} * 60 + {off_minutes} END"
    )
    parts_ok = (
        f"CAST({g(1)} AS INTEGER) >= 1 "
        f"AND CAST(coalesce({g(4)}, '0') AS INTEGER) <= 23 "
        f"AND CAST(coalesce({g(5)}, '0') AS INTEGER) <= 59 "
        f"AND CAST(coalesce({g(6)}, '0') AS INTEGER) <= 59 "
        f"AND ({zulu} OR ({off_hours} <= 23 AND {off_minutes} <= 59))"
    )
    iso = d.minus_minutes(d.try_timestamp(stamp), signed_minutes)
    plain_stamp = d.try_timestamp(f"replace(replace({t.ref}, 'T', ' '), 'Z', '')")
    naive = b.col(
        f"CASE WHEN {plain.ref} THEN {plain_stamp} "
        f"WHEN {d.full_match(t.ref, EPOCH_MS_PATTERN)} THEN {d.epoch_ms(t.ref)} "
        f"WHEN {m.ref} IS NOT NULL AND {parts_ok} THEN {iso} END",
        t,
        plain,
        m,
        category="naive",
    )
    return b.col(
        f"CASE WHEN {d.year(naive.ref)} BETWEEN 1 AND 9999 THEN {d.utc(naive.ref)} END",
        naive,
        category="datetime",
    )


def _from_typed(d: Dialect, expr: str, source: str, target: DataType) -> str:
    name = target.name
    if name == "string":
        if source == "boolean":
            return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
        if source == "datetime":
            return d.iso_utc(expr)
        return d.cast(expr, d.sql_type(target))
    if name == "decimal":
        text = d.cast(expr, d.sql_type(DataType("string")))
        return d.try_decimal(text, target.precision, target.scale)
    if name == "float":
        return d.cast(expr, d.sql_type(target))
    if name == "datetime":
        return d.date_to_tstz(expr) if source == "date" else expr
    if name == "date":
        return d.utc_date(expr)
    if name == "json" and source == "json":
        return expr
    raise ValueError(f"no SQL conversion from {source} to {name}")
