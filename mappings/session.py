"""One warehouse connection for one mapping run or preview, with the few operations the engine
needs on either dialect: read a source schema, fetch distinct inputs, register a lookup
relation, run statements in a transaction.

DuckDB: the caller holds `Warehouse.writer_lock()`; lookups are registered Arrow tables (no
copy). Postgres: lookups are temp tables filled with COPY; the pg_temp try-cast functions are
created per session.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from core.errors import ValidationError
from destinations.warehouse import Warehouse
from mappings.compiler import SourceColumn, SourceSchema
from mappings.sqlgen import DIALECTS, Dialect, quote

_ARROW_TYPES = {
    "string": pa.string(),
    "json": pa.string(),
    "decimal": pa.string(),  # transported as text, cast to DECIMAL(38,10) in SQL
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "list": pa.list_(pa.string()),
}


def category_of_sql_type(sql_type: str) -> tuple[str, bool]:
    """(category, naive timestamp?) for an information_schema data type of either dialect."""
    t = sql_type.strip().upper()
    if t.endswith("[]") or t == "ARRAY":
        return "list", False
    if t in ("VARCHAR", "TEXT", "CHARACTER VARYING", "CHAR", "CHARACTER", "UUID", "BPCHAR"):
        return "string", False
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "integer", False
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return "decimal", False
    if t in ("DOUBLE", "DOUBLE PRECISION", "REAL", "FLOAT"):
        return "float", False
    if t == "BOOLEAN":
        return "boolean", False
    if t == "DATE":
        return "date", False
    if t in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "datetime", False
    if t.startswith("TIMESTAMP"):
        return "datetime", True
    if t in ("JSON", "JSONB"):
        return "json", False
    return "string", False


# DuckDB optimizers the layered queries must not meet. `partial_aggregate_pushdown` (DuckDB 2)
# pushes the node-input aggregate (`list(DISTINCT ...)`) below a lookup join through every layer
# above it, substituting each layer's expressions into the next: a column read k times per layer
# becomes a tree of k^layers nodes. A 4-field mapping with a template over trim/domain/float
# layers planned for minutes and took 12 GB before executing (found by the property test).
DUCKDB_UNSAFE_OPTIMIZERS = ("partial_aggregate_pushdown",)


def _disable_optimizers(conn: Any, names: tuple[str, ...]) -> None:
    """Add `names` (those this DuckDB version has) to the connection's disabled optimizers."""
    known = {row[0] for row in conn.execute("SELECT name FROM duckdb_optimizers()").fetchall()}
    wanted = [n for n in names if n in known]
    if not wanted:
        return
    current = conn.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    disabled = [n.strip() for n in str(current).split(",") if n.strip()]
    disabled += [n for n in wanted if n not in disabled]
    conn.execute(f"SET disabled_optimizers = '{','.join(disabled)}'")


class WarehouseSession:
    def __init__(self, warehouse: Warehouse, *, read_only: bool = False) -> None:
        self.warehouse = warehouse
        self.dialect: Dialect = DIALECTS[warehouse.kind]
        if warehouse.kind == "duckdb":
            import duckdb

            assert warehouse.duckdb_path is not None
            if read_only and not warehouse.duckdb_path.exists():
                raise ValidationError(
                    f"the warehouse {warehouse.duckdb_path} does not exist yet",
                    hint="run a sync first",
                )
            warehouse.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            self.conn: Any = duckdb.connect(str(warehouse.duckdb_path), read_only=read_only)
        else:
            import psycopg

            url = (warehouse.postgres_url or "").replace("postgresql+psycopg://", "postgresql://")
            self.conn = psycopg.connect(url)
        for statement in self.dialect.session_setup():
            self.conn.execute(statement)
        if warehouse.kind == "duckdb":
            _disable_optimizers(self.conn, DUCKDB_UNSAFE_OPTIMIZERS)
        self._lookups: list[str] = []

    # --- statements --------------------------------------------------------------------------

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        if params is None:
            self.conn.execute(sql)
        else:
            self.conn.execute(sql, params)

    def rows(self, sql: str) -> list[tuple]:
        return list(self.conn.execute(sql).fetchall())

    def dict_rows(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def begin(self) -> None:
        if self.dialect.name == "duckdb":
            self.conn.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.conn.commit() if self.dialect.name == "postgres" else self.conn.execute("COMMIT")

    def rollback(self) -> None:
        try:
            if self.dialect.name == "postgres":
                self.conn.rollback()
            else:
                self.conn.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - nothing to roll back is fine
            pass

    def close(self) -> None:
        self.conn.close()

    def set_salt(self, salt: str) -> None:
        """The hashing salt as a session variable: the secret never appears in SQL text."""
        if self.dialect.name == "duckdb":
            self.conn.execute("SET VARIABLE mapping_salt = ?", [salt])
        else:
            self.conn.execute("SELECT set_config('mapping.salt', %s, false)", [salt])

    # --- schema ------------------------------------------------------------------------------

    def columns(self, schema: str, table: str) -> dict[str, str]:
        """column -> information_schema data type (Postgres arrays as e.g. `_text`)."""
        if self.dialect.name == "duckdb":
            sql = (
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
            )
            return dict(self.conn.execute(sql, [schema, table]).fetchall())
        sql = (
            "SELECT column_name, CASE WHEN data_type = 'ARRAY' THEN 'ARRAY' ELSE data_type END "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position"
        )
        return dict(self.conn.execute(sql, [schema, table]).fetchall())

    def source_schema(self, schema: str, table: str) -> SourceSchema | None:
        columns = self.columns(schema, table)
        if not columns:
            return None
        found = {}
        for name, sql_type in columns.items():
            category, naive = category_of_sql_type(sql_type)
            found[name] = SourceColumn(name, category, sql_type, naive)
        return SourceSchema(f"{quote(schema)}.{quote(table)}", found)

    # --- Python nodes ------------------------------------------------------------------------

    def distinct_inputs(self, sql: str) -> tuple[list[Any], list[tuple]]:
        """(keys, input rows) of a distinct-inputs query; keys keep their warehouse type."""
        if self.dialect.name == "duckdb":
            table = self.conn.sql(sql).to_arrow_table()
            columns = [c.to_pylist() for c in table.columns]
            keys = table.column(0)
        else:
            fetched = self.conn.execute(sql).fetchall()
            columns = [list(c) for c in zip(*fetched, strict=True)] if fetched else []
            keys = columns[0] if columns else []
        if not columns:
            return keys, []
        inputs = columns[1:] if len(columns) > 1 else columns
        return keys, list(zip(*inputs, strict=True))

    def batch_inputs(self, sql: str, nodes: list) -> list[tuple[Any, list[tuple]]]:
        """DuckDB: (keys, input rows) per node from one `Frame.batch_inputs_sql` query."""
        table = self.conn.sql(sql).to_arrow_table()
        out = []
        for index, node in enumerate(nodes):
            lists = table.column(index).combine_chunks()
            values = lists.values if lists.null_count == 0 else pa.array([], lists.type.value_type)
            if node.inputs == [node.key]:
                out.append((values, [(v,) for v in values.to_pylist()]))
                continue
            keys = values.field("k")
            columns = [values.field(f"i{i}").to_pylist() for i in range(len(node.inputs))]
            out.append((keys, list(zip(*columns, strict=True)) if columns else []))
        return out

    def register_placeholder(self, relation: str, key_category: str, value_category: str) -> None:
        """DuckDB: an empty lookup, so a query can be planned before the node is computed."""
        key_type = _ARROW_TYPES.get(key_category, pa.string())
        self.register_lookup(relation, pa.array([], key_type), key_category, [], value_category, [])

    def register_lookup(
        self,
        relation: str,
        keys: Any,
        key_category: str,
        values: list[Any],
        value_category: str,
        failed: list[bool],
    ) -> None:
        if value_category == "decimal":
            values = [None if v is None else str(v) for v in values]
        if self.dialect.name == "duckdb":
            table = pa.table(
                {
                    "__k": keys,
                    "__v": pa.array(values, _ARROW_TYPES[value_category]),
                    "__f": pa.array(failed, pa.bool_()),
                }
            )
            self.conn.register(relation, table)
            self._lookups.append(relation)
            return
        d = self.dialect
        key_type = "text" if key_category in ("groups", "record") else d.category_type(key_category)
        value_type = d.category_type(value_category)
        self.conn.execute(
            f"CREATE TEMP TABLE {quote(relation)} (__k {key_type}, __v {value_type}, "
            "__f boolean) ON COMMIT DROP"
        )
        with self.conn.cursor().copy(f"COPY {quote(relation)} (__k, __v, __f) FROM STDIN") as copy:
            for row in zip(keys, values, failed, strict=True):
                copy.write_row(row)
        self.conn.execute(f"ANALYZE {quote(relation)}")

    def drop_lookups(self) -> None:
        if self.dialect.name == "duckdb":
            for relation in self._lookups:
                self.conn.unregister(relation)
        self._lookups.clear()
