"""Helpers for the mapping tests (no tests here): a DuckDB warehouse with a raw table built from
records, engine runs read back as plain rows, and value normalisation for comparisons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from core.settings import Settings
from destinations.warehouse import Warehouse, dataset_name
from mappings.engine import MappingEngine, MappingRunResult
from mappings.spec import MappingSpec

ARROW = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "list": pa.list_(pa.string()),
}
SECRET = "test-secret-key"


def duckdb_settings(root: Path, **extra: Any) -> Settings:
    return Settings(DATA_DIR=root, SECRET_KEY=SECRET, _env_file=None, **extra)


def arrow_table(records: list[dict[str, Any]], types: dict[str, str]) -> pa.Table:
    return pa.table(
        {name: pa.array([r.get(name) for r in records], ARROW[cat]) for name, cat in types.items()}
    )


def load_raw_duckdb(
    warehouse: Warehouse,
    provider: str,
    integration_id: str,
    table: str,
    records: list[dict[str, Any]],
    types: dict[str, str],
) -> None:
    """(Re)create raw_<provider>_<integration>.<table> holding `records`, in order."""
    import duckdb

    schema = dataset_name(provider, integration_id)
    data = arrow_table(records, types)
    with warehouse.writer_lock():
        conn = duckdb.connect(str(warehouse.duckdb_path))
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
            conn.register("incoming", data)
            conn.execute(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM incoming')
        finally:
            conn.close()


def drop_schema_duckdb(warehouse: Warehouse, schema: str) -> None:
    import duckdb

    with warehouse.writer_lock():
        conn = duckdb.connect(str(warehouse.duckdb_path))
        try:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            conn.close()


def load_raw_postgres(
    url: str,
    provider: str,
    integration_id: str,
    table: str,
    records: list[dict[str, Any]],
    types: dict[str, str],
) -> None:
    import psycopg

    pg_types = {
        "string": "text",
        "integer": "bigint",
        "float": "double precision",
        "boolean": "boolean",
        "datetime": "timestamptz",
        "date": "date",
        "list": "text[]",
    }
    schema = dataset_name(provider, integration_id)
    columns = ", ".join(f'"{n}" {pg_types[c]}' for n, c in types.items())
    with psycopg.connect(url) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
        conn.execute(f'CREATE TABLE "{schema}"."{table}" ({columns})')
        names = ", ".join(f'"{n}"' for n in types)
        with conn.cursor().copy(f'COPY "{schema}"."{table}" ({names}) FROM STDIN') as copy:
            for record in records:
                copy.write_row([record.get(n) for n in types])


def normalize(value: Any, category: str | None = None) -> Any:
    """Comparable form: UTC datetimes with one tzinfo, parsed JSON, tuples for lists."""
    if value is None:
        return None
    if category == "json" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, Decimal | date | bool | int | float | str):
        return value
    return value


def target_rows(
    warehouse: Warehouse, spec: MappingSpec, integration_id: str
) -> list[dict[str, Any]]:
    # JSON as text on both warehouses (psycopg would parse jsonb, DuckDB returns text)
    fields = ", ".join(
        f'CAST("{n}" AS TEXT) AS "{n}"' if f.type == "json" else f'"{n}"'
        for n, f in spec.fields.items()
    )
    sql = (
        f"SELECT _source_id, _source_updated_at, {fields} FROM {spec.target} "
        f"WHERE _source_integration = '{integration_id}' AND _mapping = '{spec.name}'"
    )
    conn = warehouse.connect_readonly()
    try:
        cursor = conn.execute(sql)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()
    return [normalized_row(r, spec) for r in rows]


def normalized_row(row: dict[str, Any], spec: MappingSpec) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        category = spec.fields[name].type if name in spec.fields else None
        out[name] = normalize(value, category)
    return out


def quarantine_rows(
    warehouse: Warehouse, spec: MappingSpec, integration_id: str
) -> list[dict[str, Any]]:
    sql = (
        f"SELECT _source_id, rule, reason, record, severity, field, value "
        f"FROM {spec.quarantine_table} "
        f"WHERE _source_integration = '{integration_id}' AND _mapping = '{spec.name}'"
    )
    conn = warehouse.connect_readonly()
    try:
        rows = conn.execute(sql).fetchall()
    finally:
        conn.close()
    names = ("_source_id", "rule", "reason", "record", "severity", "field", "value")
    return [dict(zip(names, r, strict=True)) for r in rows]


def quarantine_entry(q: dict[str, Any]) -> tuple:
    """A quarantine row as compared between engine and reference (the record JSON aside)."""
    return (q["_source_id"] or "", q["rule"], q["reason"], q["severity"], q["field"], q["value"])


def run_engine(
    warehouse: Warehouse, settings: Settings, spec: MappingSpec, integration_id: str
) -> MappingRunResult:
    return MappingEngine(warehouse, settings).run(spec, integration_id=integration_id)


def sort_key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items(), key=lambda kv: kv[0]))


def one_column_records(values: list[Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Records r0..rN with `properties__value` holding each value (for single-field mappings)."""
    records = [
        {"id": f"r{i:05d}", "updated_at": datetime(2024, 1, 1, tzinfo=UTC), "properties__value": v}
        for i, v in enumerate(values)
    ]
    return records, {"id": "string", "updated_at": "datetime", "properties__value": "string"}


def engine_and_reference(
    root: Path,
    spec: MappingSpec,
    records: list[dict[str, Any]],
    types: dict[str, str],
    *,
    phone_region: str = "US",
) -> tuple[MappingRunResult, list[dict[str, Any]], list[dict[str, Any]]]:
    """Run spec on the DuckDB engine and the reference; (engine result, engine rows, reference
    rows), rows normalised and sorted by _source_id."""
    from mappings.functions import FunctionContext
    from mappings.reference import run_reference

    settings = duckdb_settings(root, PHONE_DEFAULT_REGION=phone_region)
    warehouse = Warehouse.from_settings(settings)
    load_raw_duckdb(warehouse, spec.source.provider, "cmp", spec.source.table, records, types)
    result = run_engine(warehouse, settings, spec, "cmp")
    rows = sorted(target_rows(warehouse, spec, "cmp"), key=lambda r: r["_source_id"])
    reference = run_reference(
        spec, records, types=types, context=FunctionContext(phone_region=phone_region, salt=SECRET)
    )
    expected = sorted(
        (normalized_row(r, spec) for r in reference.rows), key=lambda r: r["_source_id"]
    )
    return result, rows, expected
