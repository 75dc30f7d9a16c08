"""One writable connection to the warehouse for privacy work (analyst tables, erasure, the
post-load tombstone purge), with the few dialect differences in one place.

On DuckDB the caller holds `Warehouse.writer_lock()` for the connection's whole life (one
writer per file); this module never takes that lock itself, so callers that already hold it
(the runner's post-load hook) can use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from destinations.warehouse import Warehouse


class PrivacyConnection:
    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    @classmethod
    @contextmanager
    def open(cls, warehouse: Warehouse) -> Iterator[PrivacyConnection]:
        if warehouse.kind == "duckdb":
            import duckdb

            assert warehouse.duckdb_path is not None
            warehouse.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            conn = duckdb.connect(str(warehouse.duckdb_path))
        else:
            import psycopg

            conn = psycopg.connect(
                (warehouse.postgres_url or "").replace("postgresql+psycopg://", "postgresql://"),
                autocommit=True,
            )
        try:
            yield cls(conn, warehouse.kind)
        finally:
            conn.close()

    @property
    def marker(self) -> str:
        return "?" if self.dialect == "duckdb" else "%s"

    def sql(self, text: str) -> str:
        """`?` placeholders in the dialect's form."""
        return text if self.dialect == "duckdb" else text.replace("?", "%s")

    def execute(self, sql: str, params: list | tuple | None = None) -> int:
        """Run one statement; returns the affected row count where the driver knows it."""
        cursor = self.conn.execute(self.sql(sql), params) if params else self.conn.execute(sql)
        if self.dialect == "duckdb":
            if cursor.description and cursor.description[0][0] == "Count":
                row = cursor.fetchone()
                return int(row[0]) if row else 0
            return -1
        return cursor.rowcount

    def rows(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        cursor = self.conn.execute(self.sql(sql), params) if params else self.conn.execute(sql)
        return list(cursor.fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.dialect == "duckdb":
            self.conn.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return
        with self.conn.transaction():
            yield

    def set_salt(self, salt: str) -> None:
        """The hashing salt as a session variable: never part of any SQL text."""
        if self.dialect == "duckdb":
            self.conn.execute("SET VARIABLE privacy_salt = ?", [salt])
        else:
            self.conn.execute("SELECT set_config('privacy.salt', %s, false)", [salt])

    def tables(self, schema: str | None = None) -> set[tuple[str, str]]:
        """(schema, table) of every base table (of one schema if given)."""
        sql = (
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE'"
        )
        params: list[Any] = []
        if schema is not None:
            sql += " AND table_schema = ?"
            params.append(schema)
        return {(r[0], r[1]) for r in self.rows(sql, params or None)}

    def table_exists(self, qualified: str) -> bool:
        schema, table = qualified.split(".", 1)
        return bool(
            self.rows(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            )
        )

    def columns(self, qualified: str) -> list[str]:
        schema, table = qualified.split(".", 1)
        return [
            r[0]
            for r in self.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            )
        ]
