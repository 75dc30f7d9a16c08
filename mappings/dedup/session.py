"""One open connection to the warehouse for a dedup run, with the few dialect differences
between DuckDB and Postgres in one place (temp tables from Arrow, transactions, collation).

The dedup engine keeps its intermediate tables (records, edges, components) as temporary
tables on this connection, so a run needs one connection from start to finish; that is why it
does not use `Warehouse.execute`, which opens a connection per call. On DuckDB the caller
holds the warehouse's writer lock for the session's whole life (one writer per file).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from destinations.warehouse import Warehouse


@dataclass(frozen=True)
class DuckDBOptions:
    """Resource caps for a DuckDB session; None keeps DuckDB's own default."""

    memory_limit: str | None = "2GB"
    threads: int | None = None
    temp_directory: str | None = None


class DedupSession:
    """A connection plus dialect helpers; open with `DedupSession.open(warehouse)`."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    @classmethod
    @contextmanager
    def open(
        cls, warehouse: Warehouse, duckdb_options: DuckDBOptions | None = None
    ) -> Iterator[DedupSession]:
        if warehouse.kind == "duckdb":
            import duckdb

            assert warehouse.duckdb_path is not None
            warehouse.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            opts = duckdb_options or DuckDBOptions()
            with warehouse.writer_lock():
                conn = duckdb.connect(str(warehouse.duckdb_path))
                try:
                    if opts.memory_limit:
                        conn.execute(f"SET memory_limit = '{opts.memory_limit}'")
                    if opts.threads:
                        conn.execute(f"SET threads = {int(opts.threads)}")
                    conn.execute("SET preserve_insertion_order = false")
                    temp = opts.temp_directory or str(
                        warehouse.duckdb_path.with_suffix(".dedup_tmp")
                    )
                    conn.execute(f"SET temp_directory = '{temp}'")
                    yield cls(conn, "duckdb")
                finally:
                    conn.close()
            return
        import psycopg

        conn = psycopg.connect(
            (warehouse.postgres_url or "").replace("postgresql+psycopg://", "postgresql://"),
            autocommit=True,
        )
        try:
            yield cls(conn, "postgres")
        finally:
            conn.close()

    # --- dialect vocabulary -------------------------------------------------------------
    @property
    def text_type(self) -> str:
        return "VARCHAR" if self.dialect == "duckdb" else "TEXT"

    @property
    def collate(self) -> str:
        """Byte-order collation for key ordering, so both backends sort member keys alike."""
        return "" if self.dialect == "duckdb" else ' COLLATE "C"'

    @property
    def mark(self) -> str:
        """The driver's parameter placeholder."""
        return "?" if self.dialect == "duckdb" else "%s"

    def setting(self, name: str) -> str | None:
        if self.dialect != "duckdb":
            return None
        return str(self.scalar(f"SELECT current_setting('{name}')"))

    # --- statements ---------------------------------------------------------------------
    def execute(self, sql: str, params: list | tuple | None = None) -> None:
        if params is None:
            self.conn.execute(sql)
        else:
            self.conn.execute(sql, params)

    def rows(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        cur = self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)
        return list(cur.fetchall())

    def scalar(self, sql: str, params: list | tuple | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def arrow(self, sql: str) -> pa.Table:
        """A query result as an Arrow table (zero-copy on DuckDB)."""
        if self.dialect == "duckdb":
            return self.conn.sql(sql).to_arrow_table()
        cur = self.conn.execute(sql)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    def create_temp_from_arrow(self, name: str, table: pa.Table, columns_sql: str) -> None:
        """A temporary table `name` (`columns_sql` is its column list) holding `table`'s rows."""
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMP TABLE {name} ({columns_sql})")
        if table.num_rows == 0:
            return
        if self.dialect == "duckdb":
            self.conn.register("_dedup_arrow_in", table)
            try:
                self.execute(f"INSERT INTO {name} SELECT * FROM _dedup_arrow_in")
            finally:
                self.conn.unregister("_dedup_arrow_in")
            return
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        with self.conn.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    # --- catalogue ----------------------------------------------------------------------
    def table_exists(self, qualified: str) -> bool:
        schema, table = qualified.split(".", 1)
        sql = (
            "SELECT COUNT(*) FROM information_schema.tables "
            f"WHERE table_schema = {self.mark} AND table_name = {self.mark}"
        )
        return bool(self.scalar(sql, [schema, table]))

    def columns(self, qualified: str) -> list[tuple[str, str]]:
        """(name, SQL type) of a table's columns in declaration order."""
        schema, table = qualified.split(".", 1)
        mark = self.mark
        if self.dialect == "duckdb":
            sql = (
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = {mark} AND table_name = {mark} ORDER BY ordinal_position"
            )
        else:
            sql = (
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = "
                f"c.relnamespace WHERE n.nspname = {mark} AND c.relname = {mark} "
                "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            )
        return [(str(r[0]), str(r[1])) for r in self.rows(sql, [schema, table])]

    def ensure_schema(self, qualified: str) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified.split('.', 1)[0]}")
