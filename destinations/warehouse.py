"""Where extracted data lands: the embedded DuckDB file (default) or Postgres (scale-out staging).

This module only decides the dlt destination, the load file format and the dataset names; it
never extracts and never talks to a provider. DuckDB is always loaded from Arrow/parquet, never
with dlt's default INSERT path (DESIGN decision 2), and has one writer at a time (decision 3).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt

from core.errors import ValidationError
from core.settings import Settings, configure_dlt_environment


def dataset_name(provider: str, integration_id: str) -> str:
    """`raw_<provider>_<integration>`: one dataset per integration, so two portals never mix."""
    slug = re.sub(r"[^a-z0-9_]+", "_", integration_id.lower()).strip("_")
    return f"raw_{provider}_{slug}"


def _libpq_url(url: str) -> str:
    """SQLAlchemy-style `postgresql+psycopg://` URLs as plain libpq URLs."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_password(url: str) -> str:
    """dlt insists on a password field; trust/peer auth ignores it, so supply a placeholder."""
    parts = urlsplit(_libpq_url(url))
    if parts.password is None and parts.username:
        netloc = f"{parts.username}:unused@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


@dataclass(frozen=True)
class Warehouse:
    """One configured warehouse: how to build its dlt destination and how to load it."""

    kind: str
    duckdb_path: Path | None = None
    postgres_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Warehouse:
        configure_dlt_environment(settings)
        if settings.WAREHOUSE == "duckdb":
            return cls("duckdb", duckdb_path=settings.duckdb_path)
        if settings.WAREHOUSE == "postgres":
            if not settings.WAREHOUSE_POSTGRES_URL:
                raise ValidationError(
                    "WAREHOUSE=postgres needs WAREHOUSE_POSTGRES_URL",
                    hint="e.g. postgresql://user@127.0.0.1:5432/warehouse",
                )
            return cls("postgres", postgres_url=settings.WAREHOUSE_POSTGRES_URL)
        raise ValidationError(
            f"unknown WAREHOUSE {settings.WAREHOUSE!r}", hint="use duckdb or postgres"
        )

    @property
    def loader_file_format(self) -> str:
        # Arrow tables become parquet for DuckDB and COPY-able CSV for Postgres.
        return "parquet" if self.kind == "duckdb" else "csv"

    def destination(self) -> Any:
        if self.kind == "duckdb":
            assert self.duckdb_path is not None
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(str(self.duckdb_path))
        return dlt.destinations.postgres(_with_password(self.postgres_url or ""))

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive across processes for the DuckDB file (Postgres needs none)."""
        if self.kind != "duckdb":
            yield
            return
        assert self.duckdb_path is not None
        lock_path = self.duckdb_path.with_suffix(self.duckdb_path.suffix + ".writer.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def connect_readonly(self):
        """A DB-API connection for reads (checks, previews, tests). Close it promptly."""
        if self.kind == "duckdb":
            import duckdb

            return duckdb.connect(str(self.duckdb_path), read_only=True)
        import psycopg

        return psycopg.connect(_libpq_url(self.postgres_url))

    def execute(self, statements: list[tuple[str, list | None]]) -> None:
        """Run write statements in one transaction (callers hold `writer_lock` on DuckDB)."""
        if self.kind == "duckdb":
            import duckdb

            assert self.duckdb_path is not None
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            conn = duckdb.connect(str(self.duckdb_path))
        else:
            import psycopg

            conn = psycopg.connect(_libpq_url(self.postgres_url))
        try:
            for sql, params in statements:
                conn.execute(sql, params) if params is not None else conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def table_exists(self, schema: str, table: str) -> bool:
        rows = self.query(
            "SELECT COUNT(*) FROM information_schema.tables "
            f"WHERE table_schema = '{schema}' AND table_name = '{table}'"
        )
        return bool(rows[0][0])

    def query(self, sql: str) -> list[tuple]:
        """Run one read query and return all rows."""
        conn = self.connect_readonly()
        try:
            cur = conn.execute(sql)
            return list(cur.fetchall())
        finally:
            conn.close()
