"""Target data types and their conversions in Python (the reference semantics).

Every conversion is total: it returns a value or reports a failure, never raises. The SQL
compiler (`mappings/sqlgen.py`) implements the same rules for DuckDB and Postgres; the property
tests hold the two to the same results. The parsing patterns live here once and are used by both.

Rules that hold for every target type except `string`: input text is trimmed of ASCII
whitespace first, and empty text is null (not a failure).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

CATEGORIES = (
    "string",
    "integer",
    "decimal",
    "float",
    "boolean",
    "date",
    "datetime",
    "json",
    "list",
)
NUMERIC = frozenset({"integer", "decimal", "float"})
WHITESPACE = " \t\n\r"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

INTEGER_PATTERN = r"[+-]?[0-9]+"
DECIMAL_PATTERN = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
FLOAT_PATTERN = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
EPOCH_MS_PATTERN = r"-?[0-9]{1,15}"
# date [T|space time [offset]]: groups year, month, day, hour, minute, second, fraction, offset
DATETIME_PATTERN = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
BOOLEAN_TRUE = ("true", "t", "yes", "y", "1", "on")
BOOLEAN_FALSE = ("false", "f", "no", "n", "0", "off")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_INTEGER = re.compile(INTEGER_PATTERN)
_DECIMAL = re.compile(DECIMAL_PATTERN)
_FLOAT = re.compile(FLOAT_PATTERN)
_EPOCH_MS = re.compile(EPOCH_MS_PATTERN)
_DATETIME = re.compile(DATETIME_PATTERN)


@dataclass(frozen=True)
class DataType:
    """A target column type: a category plus its parameters."""

    name: str = "string"
    precision: int = 18
    scale: int = 2
    separator: str = ";"

    def __str__(self) -> str:
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name


class Failed:
    """The one failure marker; `FAILED` is its only instance."""

    _instance: Failed | None = None

    def __new__(cls) -> Failed:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FAILED"


FAILED = Failed()


def category_of(value: Any) -> str | None:
    """The category of a Python value (None for null), used when a schema must be inferred."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "json"
    return "string"


# Which (from -> to) conversions exist. `json` from text runs in Python (see needs_python).
CONVERSIONS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "integer", "decimal", "boolean", "date", "datetime"}),
    "integer": frozenset({"string", "integer"}),
    "decimal": frozenset({"string", "integer", "decimal"}),
    "float": frozenset({"string", "integer", "decimal", "float"}),
    "boolean": frozenset({"string", "boolean"}),
    "date": frozenset({"string", "date", "datetime"}),
    "datetime": frozenset({"string", "date", "datetime"}),
    "json": frozenset({"string", "json"}),
    "list": frozenset({"string", "list"}),
}


def can_convert(source: str, target: str) -> bool:
    return source == "null" or source in CONVERSIONS[target]


def needs_python(source: str, target: str) -> bool:
    """JSON text is parsed by Python's strict parser: DuckDB's accepts NaN and trailing commas."""
    return target == "json" and source == "string"


def convert(value: Any, source: str, target: DataType) -> Any:
    """Convert one value of category `source` to `target`; FAILED when it cannot."""
    if value is None:
        return None
    name = target.name
    if source == name and name not in ("decimal", "datetime"):
        return value
    if source == "string" and name != "string":
        value = value.strip(WHITESPACE)
        if value == "":
            return None
    return _CONVERTERS[name](value, source, target)


def _to_string(value: Any, source: str, target: DataType) -> Any:
    if source == "boolean":
        return "true" if value else "false"
    if source == "datetime":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if source == "date":
        return value.isoformat()
    return str(value)


def _to_integer(value: Any, source: str, target: DataType) -> Any:
    if source == "string":
        if not _INTEGER.fullmatch(value):
            return FAILED
        value = int(value)
    return value if INT64_MIN <= value <= INT64_MAX else FAILED


def _to_decimal(value: Any, source: str, target: DataType) -> Any:
    if source == "string":
        if not _DECIMAL.fullmatch(value):
            return FAILED
        value = Decimal(value)
    elif source == "integer":
        value = Decimal(value)
    return quantize(value, target.precision, target.scale)


def quantize(value: Decimal, precision: int, scale: int) -> Any:
    """Round half away from zero to `scale` places; FAILED when it needs more than `precision`."""
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return FAILED
        if abs(rounded) >= Decimal(10) ** (precision - scale):
            return FAILED
        return rounded


def _to_float(value: Any, source: str, target: DataType) -> Any:
    if source == "string":
        if not _FLOAT.fullmatch(value):
            return FAILED
        value = float(value)
    else:
        value = float(value)
    return value if math.isfinite(value) else FAILED


def _to_boolean(value: Any, source: str, target: DataType) -> Any:
    if source == "boolean":
        return value
    lowered = value.lower()
    if lowered in BOOLEAN_TRUE:
        return True
    if lowered in BOOLEAN_FALSE:
        return False
    return FAILED


def parse_datetime(text: str) -> Any:
    """ISO 8601 (offsets normalised to UTC, naive taken as UTC) or epoch milliseconds."""
    if _EPOCH_MS.fullmatch(text):
        try:
            return EPOCH + timedelta(milliseconds=int(text))
        except OverflowError:
            return FAILED
    match = _DATETIME.fullmatch(text)
    if not match:
        return FAILED
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    hour, minute, second = int(hour or 0), int(minute or 0), int(second or 0)
    if hour > 23 or minute > 59 or second > 59:
        return FAILED
    micros = int((fraction or "").ljust(6, "0")[:6])
    try:
        moment = datetime(int(year), int(month), int(day), hour, minute, second, micros)
    except ValueError:
        return FAILED
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return FAILED
        delta = timedelta(hours=hours, minutes=minutes)
        try:
            moment = moment - delta if offset[0] == "+" else moment + delta
        except OverflowError:
            return FAILED
    return moment.replace(tzinfo=UTC)


def _to_datetime(value: Any, source: str, target: DataType) -> Any:
    if source == "string":
        return parse_datetime(value)
    if source == "date":
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _to_date(value: Any, source: str, target: DataType) -> Any:
    if source == "date":
        return value
    moment = _to_datetime(value, source, target)
    return FAILED if moment is FAILED else moment.date()


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> Any:
    """Strict RFC 8259 JSON; returns the canonical compact text (what the warehouse stores)."""
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return FAILED
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))


def json_text(value: Any) -> str:
    """One spelling of a JSON value for templates: compact, keys sorted (Postgres jsonb
    reorders keys and psycopg hands back parsed values; DuckDB keeps the text)."""
    parsed = json.loads(value) if isinstance(value, str) else value
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _to_json(value: Any, source: str, target: DataType) -> Any:
    if source == "json":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return parse_json(value)


def split_list(text: str, separator: str) -> list[str]:
    """Items of a separated list, each trimmed; empty items are dropped."""
    items = (item.strip(WHITESPACE) for item in text.split(separator))
    return [item for item in items if item]


def _to_list(value: Any, source: str, target: DataType) -> Any:
    if source == "list":
        return list(value)
    return split_list(value, target.separator)


_CONVERTERS = {
    "string": _to_string,
    "integer": _to_integer,
    "decimal": _to_decimal,
    "float": _to_float,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
    "json": _to_json,
    "list": _to_list,
}
