"""The SQLite backend of the inbox: one WAL file shared by every receiver worker on a host.

Durability choice: WAL with `synchronous=NORMAL` (the default here). A commit has reached the
operating system before `append` returns, so a committed row survives a SIGKILL of the worker
or the master; only a power loss or kernel crash can roll back the last commits. Operators who
need that too set `?synchronous=FULL` on the URL (an fsync per commit) or use Postgres.
Writers serialize on the WAL write lock (`BEGIN IMMEDIATE`), so row ids commit in id order,
which is what makes the sensor's `id > cursor` safe.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_BUSY_TIMEOUT_MS = 5_000
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS webhook_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object_type TEXT,
        object_id TEXT,
        payload BLOB NOT NULL,
        headers TEXT NOT NULL,
        verification TEXT NOT NULL,
        received_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_error TEXT,
        run_key TEXT,
        updated_at REAL NOT NULL
    )
    """,
    """
    CREATE UNIQUE INDEX IF NOT EXISTS webhook_events_delivery
        ON webhook_events (provider, integration_id, delivery_id)
    """,
    "CREATE INDEX IF NOT EXISTS webhook_events_status ON webhook_events (status, id)",
    """
    CREATE INDEX IF NOT EXISTS webhook_events_due
        ON webhook_events (status, next_attempt_at)
    """,
    """
    CREATE TABLE IF NOT EXISTS webhook_dead_letters (
        event_id INTEGER PRIMARY KEY,
        reason TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        dead_at REAL NOT NULL,
        provider TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        object_type TEXT,
        object_id TEXT,
        payload BLOB NOT NULL,
        headers TEXT NOT NULL,
        verification TEXT NOT NULL,
        received_at REAL NOT NULL
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS webhook_dead_letters_integration
        ON webhook_dead_letters (integration_id, event_id)
    """,
)


class SQLiteBackend:
    """Connections and transaction verbs for SQLite; SQL text uses `?` placeholders."""

    name = "sqlite"
    # OSError: the directory cannot be created or the file opened (disk full, permissions)
    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
    schema = SCHEMA

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or not parts.path or parts.path == "/":
            raise ValueError(f"not a SQLite file URL: {url!r} (use sqlite:///path/inbox.sqlite)")
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy spells them.
        self.path = Path(parts.path[1:])
        if ":memory:" in str(self.path):
            raise ValueError("the inbox must be a file shared by every worker, not :memory:")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.synchronous = options.get("synchronous", "NORMAL").upper()
        if self.synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
        self.busy_timeout_ms = int(options.get("busy_timeout_ms", DEFAULT_BUSY_TIMEOUT_MS))

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        return conn

    def sql(self, text: str) -> str:
        return text

    def begin(self, conn: sqlite3.Connection, *, write: bool, ordered: bool = False) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock-prone read-to-write upgrade.
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self, conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def lock_schema(self, conn: sqlite3.Connection) -> None:
        """DDL runs inside BEGIN IMMEDIATE already: nothing more to serialize."""
