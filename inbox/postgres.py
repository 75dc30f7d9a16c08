"""The Postgres backend of the inbox: the store several receiver hosts share.

Appends take a transaction-scoped advisory lock before they draw row ids, so ids commit in id
order exactly as on SQLite. Without it two concurrent appends could commit ids 7 and 6 in that
order, and a sensor that had already moved its cursor to 7 would never see 6. The lock is held
only for one INSERT and its commit.
"""

from __future__ import annotations

from typing import Any

import psycopg

# Arbitrary constants naming the advisory locks of this table family.
APPEND_LOCK = 0x5EB400C
SCHEMA_LOCK = 0x5EB400D
CONNECT_TIMEOUT_S = 5

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS webhook_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        provider TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object_type TEXT,
        object_id TEXT,
        payload BYTEA NOT NULL,
        headers TEXT NOT NULL,
        verification TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION,
        last_error TEXT,
        run_key TEXT,
        updated_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE UNIQUE INDEX IF NOT EXISTS webhook_events_delivery
        ON webhook_events (provider, integration_id, delivery_id)
    """,
    "CREATE INDEX IF NOT EXISTS webhook_events_status ON webhook_events (status, id)",
    """
    CREATE INDEX IF NOT EXISTS webhook_events_due
        ON webhook_events (next_attempt_at) WHERE next_attempt_at IS NOT NULL
    """,
    """
    CREATE TABLE IF NOT EXISTS webhook_dead_letters (
        event_id BIGINT PRIMARY KEY,
        reason TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        dead_at DOUBLE PRECISION NOT NULL,
        provider TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object_type TEXT,
        object_id TEXT,
        payload BYTEA NOT NULL,
        headers TEXT NOT NULL,
        verification TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS webhook_dead_letters_integration
        ON webhook_dead_letters (integration_id, event_id)
    """,
)


def libpq_url(url: str) -> str:
    """psycopg wants `postgresql://`; accept the SQLAlchemy and Heroku spellings too."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


class PostgresBackend:
    """Connections and transaction verbs for Postgres; SQL text is written with `?`."""

    name = "postgresql"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    single_statement_commit = False  # appends: BEGIN, INSERT ... RETURNING, COMMIT
    schema = SCHEMA

    def __init__(self, url: str) -> None:
        self.url = libpq_url(url)

    def describe(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.url)
        return (
            f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        )

    def connect(self, *, shared: bool = False) -> psycopg.Connection:
        """A connection (psycopg's are thread-safe, so `shared` changes nothing here)."""
        return psycopg.connect(self.url, autocommit=False, connect_timeout=CONNECT_TIMEOUT_S)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def begin(self, conn: psycopg.Connection, *, write: bool, ordered: bool = False) -> None:
        # psycopg opens the transaction implicitly; appends also serialize their id draw.
        if ordered:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))

    def commit(self, conn: psycopg.Connection) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        if not conn.closed:
            conn.rollback()

    def lock_schema(self, conn: psycopg.Connection) -> None:
        """Concurrent `CREATE TABLE IF NOT EXISTS` can still collide on Postgres: serialize."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
