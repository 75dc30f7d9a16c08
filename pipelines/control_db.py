"""The control database: integrations, encrypted credentials, OAuth states, audit log, sync runs.

SQLite (WAL, busy_timeout) is the embedded default, Postgres the shared store. This module only
knows tables, connections and locks: it must never see a plaintext secret nor decide policy.

Every write goes through `begin()`. Inside an open `begin()` or `exclusive()` block, further
`begin()`/`read()` calls in the same thread join that transaction: work done under a lock commits
with its release and, on SQLite, never deadlocks against the lock's own write reservation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from core.private_files import private_sqlite, sqlite_file_path

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Use psycopg 3 for Postgres whatever spelling the URL came in."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _build_metadata() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    md = sa.MetaData()
    integrations = sa.Table(
        "integrations",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("organization_id", sa.Text, nullable=False, index=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    credentials = sa.Table(
        "credentials",
        md,
        sa.Column("integration_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("ciphertext", sa.Text, nullable=False),
        # Fingerprint of the key that encrypted the row (never the key itself).
        sa.Column("key_fingerprint", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    oauth_states = sa.Table(
        "oauth_states",
        md,
        # SHA-256 of the state parameter: a stolen table cannot be replayed into a callback.
        sa.Column("state", sa.Text, primary_key=True),
        sa.Column("integration_id", sa.Text, nullable=False, index=True),
        sa.Column("code_verifier_ciphertext", sa.Text, nullable=False),
        sa.Column("key_fingerprint", sa.Text, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    audit_log = sa.Table(
        "audit_log",
        md,
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("integration_id", sa.Text, nullable=True, index=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    sync_runs = sa.Table(
        "sync_runs",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("integration_id", sa.Text, nullable=False, index=True),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("entities", sa.JSON, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("rows_loaded", sa.JSON, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False, default=0),
        sa.Column("rate_limit_waits", sa.Integer, nullable=False, default=0),
        sa.Column("rate_limit_wait_s", sa.Float, nullable=False, default=0.0),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("load_ids", sa.JSON, nullable=False),
        sa.Column("provider", sa.Text, nullable=True),
        # Host and pid of the process running it: a `running` row whose process is gone is
        # marked `abandoned` when a runner starts (pipelines/run_log.py).
        sa.Column("runner_host", sa.Text, nullable=True),
        sa.Column("runner_pid", sa.Integer, nullable=True),
    )
    # One row per lock name; Postgres serializes on `SELECT ... FOR UPDATE` of it.
    locks = sa.Table("control_locks", md, sa.Column("name", sa.Text, primary_key=True))
    tables = {
        t.name: t for t in (integrations, credentials, oauth_states, audit_log, sync_runs, locks)
    }
    return md, tables


class ControlDatabase:
    """An engine, the control tables, and the transaction/lock discipline every user follows."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.metadata, tables = _build_metadata()
        self.integrations = tables["integrations"]
        self.credentials = tables["credentials"]
        self.oauth_states = tables["oauth_states"]
        self.audit_log = tables["audit_log"]
        self.sync_runs = tables["sync_runs"]
        self.locks = tables["control_locks"]
        self._held: ContextVar[Connection | None] = ContextVar(f"held_{id(self)}", default=None)
        self.engine: Engine = self._create_engine()

    @classmethod
    def from_settings(cls, settings: Any) -> ControlDatabase:
        return cls(settings.control_database_url)

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"ControlDatabase({self.engine.url.render_as_string(hide_password=True)!r})"

    def _create_engine(self) -> Engine:
        if self.url.startswith("sqlite"):
            path = sqlite_file_path(self.url)
            if path is not None:
                private_sqlite(path)  # 0600 before SQLite creates it with the umask's mode
            engine = sa.create_engine(self.url, connect_args={"timeout": 30})
            # pysqlite's implicit transactions cannot express BEGIN IMMEDIATE: take control.
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        return sa.create_engine(self.url, pool_pre_ping=True)

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Additive schema changes for databases created by an older release (nullable only)."""
        inspector = sa.inspect(self.engine)
        for table in self.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            missing = [c for c in table.columns if c.name not in present and c.nullable]
            if not missing:
                continue
            with self.engine.begin() as conn:
                for column in missing:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(
                        sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                    )

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE); nested calls join the outer one."""
        held = self._held.get()
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                token = self._held.set(conn)
                try:
                    yield conn
                finally:
                    self._held.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction, or the enclosing transaction when there is one."""
        held = self._held.get()
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def exclusive(self, name: str) -> Iterator[Connection]:
        """Hold a named lock across processes until the block ends; work inside commits with it.

        Postgres: `SELECT ... FOR UPDATE` on the lock's row, so only holders of the same name
        wait. SQLite: `BEGIN IMMEDIATE`, which reserves the whole file for writing — every other
        writer waits (up to busy_timeout), so keep the block short.
        """
        if self._held.get() is not None:
            raise RuntimeError("take a control database lock outside any open transaction")
        with self.begin() as conn:
            if self.dialect_name == "postgresql":
                conn.execute(
                    postgresql.insert(self.locks).values(name=name).on_conflict_do_nothing()
                )
                conn.execute(
                    sa.select(self.locks.c.name).where(self.locks.c.name == name).with_for_update()
                )
            yield conn

    def upsert(self, conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
        """Insert or replace one row by its primary key, in either dialect."""
        insert = postgresql.insert if self.dialect_name == "postgresql" else sqlite.insert
        keys = {c.name for c in table.primary_key.columns}
        stmt = insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=sorted(keys),
            set_={k: stmt.excluded[k] for k in values if k not in keys},
        )
        conn.execute(stmt)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
