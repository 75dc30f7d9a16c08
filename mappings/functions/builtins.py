"""The built-in mapping functions other than e-mail and phone (see email.py, phone.py).

String functions take text and give text; a null input is a null output. Each has one Python
implementation (the reference) and its SQL equivalent for DuckDB and Postgres.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings.functions.base import (
    FunctionContext,
    FunctionDef,
    SqlResult,
    SqlStep,
)
from mappings.types import FAILED, WHITESPACE, split_list


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _simple(name: str, summary: str, python, sql_of) -> FunctionDef:
    def sql(step: SqlStep) -> SqlResult:
        b = step.builder
        return SqlResult(b.col(sql_of(b.dialect, step.value.ref), step.value, category="string"))

    return FunctionDef(name, summary, python=lambda config, context: python, sql=sql)


TRIM = _simple(
    "trim",
    "remove leading and trailing spaces, tabs and line breaks",
    lambda value: value.strip(WHITESPACE),
    lambda d, x: d.trim(x),
)
LOWER = _simple("lower", "lower case", lambda value: value.lower(), lambda d, x: f"lower({x})")
UPPER = _simple("upper", "upper case", lambda value: value.upper(), lambda d, x: f"upper({x})")
EMPTY_TO_NULL = _simple(
    "empty_to_null",
    "empty text becomes null (APIs often send '' for a cleared property)",
    lambda value: value if value != "" else None,
    lambda d, x: f"NULLIF({x}, '')",
)


class SeparatorOptions(_Options):
    separator: str = ";"

    @field_validator("separator")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("separator must not be empty")
        return value


def _split_sql(step: SqlStep) -> SqlResult:
    b = step.builder
    sql = b.dialect.split_list(step.value.ref, step.config.separator)
    return SqlResult(b.col(sql, step.value, category="list"))


SPLIT = FunctionDef(
    "split",
    "text -> list of trimmed, non-empty items (option separator, default ';')",
    config_model=SeparatorOptions,
    returns=lambda config, category: "list",
    python=lambda config, context: lambda value: split_list(value, config.separator),
    sql=_split_sql,
    primary="separator",
)


class JoinOptions(_Options):
    separator: str = ", "


def _join_sql(step: SqlStep) -> SqlResult:
    b = step.builder
    sql = b.dialect.join_list(step.value.ref, step.config.separator)
    return SqlResult(b.col(sql, step.value, category="string"))


JOIN = FunctionDef(
    "join",
    "list -> text, items joined by separator (default ', '), null items skipped",
    config_model=JoinOptions,
    accepts=frozenset({"list"}),
    python=lambda config, context: (
        lambda value: config.separator.join(v for v in value if v is not None)
    ),
    sql=_join_sql,
    primary="separator",
)


class CoalesceOptions(_Options):
    paths: list[str] = Field(min_length=1)


def _coalesce_sql(step: SqlStep) -> SqlResult:
    b = step.builder
    sources = [step.source(path) for path in step.config.paths]
    sql = f"coalesce({step.value.ref}, {', '.join(s.ref for s in sources)})"
    return SqlResult(b.col(sql, step.value, *sources, category=step.category))


COALESCE = FunctionDef(
    "coalesce",
    "the first non-null of the current value and the listed source paths",
    config_model=CoalesceOptions,
    accepts=None,
    returns=lambda config, category: category,
    sql=_coalesce_sql,
    source_paths=lambda config: list(config.paths),
    primary="paths",
)

# domain: lower-case; drop scheme, user part (everything up to the last '@'), path, port, www.
_DOMAIN_STEPS = (
    r"^[a-z][a-z0-9+.-]*://",
    r"^.*@",
    r"[/?#].*$",
    r":[0-9]*$",
    r"^www\.",
    r"\.$",
)
_DOMAIN_PY = tuple(re.compile(p.replace("$", r"\Z"), re.DOTALL) for p in _DOMAIN_STEPS)


def domain_of(value: str) -> str | None:
    text = value.strip(WHITESPACE).lower()
    for pattern in _DOMAIN_PY:
        text = pattern.sub("", text, count=1)
    return text or None


def _domain_sql(step: SqlStep) -> SqlResult:
    """The same six steps as `domain_of`, each a regular expression only on rows that can
    match it (a cheap `strpos` guard first): most inputs need two or three of them at most."""
    b = step.builder
    d = b.dialect
    scheme, _user, path, port, www, dot = _DOMAIN_STEPS

    def step_col(x, guard: str, pattern: str):
        sql = f"CASE WHEN {guard} THEN {d.replace_first(x.ref, pattern, '')} ELSE {x.ref} END"
        return b.col(sql, x, category="string")

    x = b.col(f"lower({d.trim(step.value.ref)})", step.value, category="string")
    x = step_col(x, f"strpos({x.ref}, '://') > 0", scheme)
    x = b.col(  # `^.*@` removes everything up to the last '@'
        f"CASE WHEN strpos({x.ref}, '@') > 0 THEN {d.after_last(x.ref, '@')} ELSE {x.ref} END",
        x,
        category="string",
    )
    guard = " OR ".join(f"strpos({x.ref}, '{c}') > 0" for c in "/?#")
    x = step_col(x, f"({guard})", path)
    x = step_col(x, f"strpos({x.ref}, ':') > 0", port)
    x = step_col(x, f"substr({x.ref}, 1, 4) = 'www.'", www)
    x = step_col(x, f"strpos({x.ref}, '.') > 0", dot)
    return SqlResult(b.col(f"NULLIF({x.ref}, '')", x, category="string"))


DOMAIN = FunctionDef(
    "domain",
    "host name from a URL or an e-mail address, lower case, without www.",
    python=lambda config, context: domain_of,
    sql=_domain_sql,
)


class HashOptions(_Options):
    salt: bool = True


def _hash_python(config: HashOptions, context: FunctionContext):
    salt = context.salt if config.salt else ""
    return lambda value: hashlib.sha256((salt + value).encode("utf-8")).hexdigest()


def _hash_sql(step: SqlStep) -> SqlResult:
    b = step.builder
    d = b.dialect
    text = f"concat({d.salt()}, {step.value.ref})" if step.config.salt else step.value.ref
    sql = f"CASE WHEN {step.value.ref} IS NOT NULL THEN {d.sha256_hex(text)} END"
    return SqlResult(b.col(sql, step.value, category="string"))


HASH = FunctionDef(
    "hash",
    "hex SHA-256 for PII, salted with SECRET_KEY unless salt: false",
    config_model=HashOptions,
    python=_hash_python,
    sql=_hash_sql,
    primary="salt",
)


class ParseDateOptions(_Options):
    formats: list[str] = Field(min_length=1)
    output: Literal["date", "datetime"] = "date"


def _parse_date_python(config: ParseDateOptions, context: FunctionContext):
    def parse(value: str) -> Any:
        text = value.strip(WHITESPACE)
        if not text:
            return None
        for fmt in config.formats:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if config.output == "date":
                return parsed.date()
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        return FAILED

    return parse


PARSE_DATE = FunctionDef(
    "parse_date",
    "text -> date or datetime with strptime formats tried in order; no match -> failure",
    config_model=ParseDateOptions,
    returns=lambda config, category: config.output,
    python=_parse_date_python,
    primary="formats",
)
