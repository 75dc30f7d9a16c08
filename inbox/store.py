"""The durable inbox: every verified webhook event is committed here before the receiver answers.

Writers are the receiver workers (`append`, the hot path: one plain DB-API connection per worker
thread, no ORM); the reader is the Dagster sensor (`fetch_ready`, `mark_*`, dead letters).
Idempotency is the unique key (provider, integration_id, delivery_id): a redelivery is counted
as a duplicate and stores nothing. This module never decides what an event means.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.clock import clock
from inbox.models import (
    STATUSES,
    AppendResult,
    DeadLetter,
    InboundEvent,
    InboxUnavailable,
    Requeued,
    StoredEvent,
)
from inbox.postgres import PostgresBackend
from inbox.sqlite import SQLiteBackend

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2_000
_INHERITED: list[Any] = []  # connections inherited across a fork, deliberately left open
_ID_CHUNK = 500
_INSERT_CHUNK = 500  # rows per INSERT: 11 parameters each, far below SQLite's 32,766

EVENT_COLUMNS = (
    "provider, integration_id, delivery_id, event_type, object_type, object_id, payload, "
    "headers, verification, received_at"
)
STORED_COLUMNS = f"{EVENT_COLUMNS}, id, status, attempts, next_attempt_at, last_error, run_key"
DEAD_COLUMNS = f"{EVENT_COLUMNS}, event_id, reason, attempts, dead_at"

INSERT_EVENTS = (
    f"INSERT INTO webhook_events ({EVENT_COLUMNS}, status, attempts, updated_at) VALUES "
)
INSERT_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)"
INSERT_CONFLICT = " ON CONFLICT (provider, integration_id, delivery_id) DO NOTHING"
INSERT_RETURNING = " RETURNING provider, integration_id, delivery_id"
# Pending rows past the cursor, plus rows due now whatever their id (failed rows whose retry is
# due, replayed rows): their ids may be behind the sensor's cursor. Only rows waiting for a retry
# or a replay have a next_attempt_at, so the second part reads a small partial index.
FETCH_READY = (
    f"SELECT {STORED_COLUMNS} FROM webhook_events WHERE status = 'pending' AND id > ? "
    f"UNION ALL SELECT {STORED_COLUMNS} FROM webhook_events "
    "WHERE next_attempt_at <= ? AND status IN ('pending', 'failed') "
    "AND NOT (status = 'pending' AND id > ?) "
    "ORDER BY id LIMIT ?"
)
# Dispatched rows whose dispatch (the last update of a dispatched row) is older than a cutoff.
STALE_DISPATCHED = (
    f"SELECT {STORED_COLUMNS} FROM webhook_events WHERE status = 'dispatched' "
    "AND updated_at <= ? ORDER BY id LIMIT ?"
)


def _epoch(moment: datetime | None) -> float:
    return clock.time() if moment is None else moment.timestamp()


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    unique = sorted({int(i) for i in ids})
    for start in range(0, len(unique), _ID_CHUNK):
        yield unique[start : start + _ID_CHUNK]


def _in(ids: list[int]) -> str:
    return f"({', '.join('?' for _ in ids)})"


class Inbox:
    """The webhook inbox on SQLite (WAL, the embedded default) or Postgres (scale-out)."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:"):
            self._backend: SQLiteBackend | PostgresBackend = SQLiteBackend(url)
        elif url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres"):
            self._backend = PostgresBackend(url)
        else:
            raise ValueError(
                f"unsupported inbox URL {url.split(':', 1)[0]}:// (sqlite or postgresql)"
            )
        self._local = threading.local()
        self._schema_pid: int | None = None
        self._schema_lock = threading.Lock()
        self._group_commit: _GroupCommit | None = None
        self._writer: tuple[int, Any] | None = None  # (pid, connection) of the appends

    @classmethod
    def from_settings(cls, settings: Any) -> Inbox:
        return cls(settings.inbox_database_url)

    @property
    def backend(self) -> str:
        return self._backend.name

    def __repr__(self) -> str:
        return f"Inbox({self._backend.describe()!r})"

    # -- connections ------------------------------------------------------------------------

    def _connection(self) -> Any:
        """This thread's connection, opened lazily and reopened after a fork."""
        pid = os.getpid()
        held = getattr(self._local, "conn", None)
        if held is not None:
            if held[0] == pid:
                return held[1]
            # Opened before a fork (e.g. gunicorn --preload): never use or close it here, as
            # closing a parent's SQLite connection in a child can checkpoint or delete the WAL
            # under the parent's feet. Keeping a reference keeps it from being collected.
            _INHERITED.append(held[1])
        conn = self._backend.connect()
        self._local.conn = (pid, conn)
        return conn

    def _drop_connection(self) -> None:
        held = getattr(self._local, "conn", None)
        self._local.conn = None
        if held is not None and held[0] == os.getpid():
            # closing a broken connection may fail too; it is being discarded either way
            with contextlib.suppress(Exception):
                held[1].close()

    def close(self) -> None:
        """Close this thread's connection (others close with their threads) and the appends'."""
        self._drop_connection()
        self._drop_writer()

    @contextmanager
    def _transaction(self, *, write: bool, ordered: bool = False) -> Iterator[Any]:
        self._ensure_schema()
        try:
            conn = self._connection()
            self._backend.begin(conn, write=write, ordered=ordered)
        except self._backend.errors as exc:
            self._drop_connection()
            raise InboxUnavailable(f"inbox unreachable: {exc}") from exc
        try:
            yield conn
            self._backend.commit(conn)
        except self._backend.errors as exc:
            self._abandon(conn)
            raise InboxUnavailable(f"inbox could not commit: {exc}") from exc
        except BaseException:
            self._abandon(conn)
            raise

    def _abandon(self, conn: Any) -> None:
        try:
            self._backend.rollback(conn)
        except self._backend.errors:
            self._drop_connection()

    def _ensure_schema(self) -> None:
        if self._schema_pid == os.getpid():
            return
        with self._schema_lock:
            if self._schema_pid != os.getpid():
                self._create_schema()
                self._schema_pid = os.getpid()

    # -- schema -----------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables and indexes if they are missing (idempotent, safe concurrently)."""
        with self._schema_lock:
            self._create_schema()
            self._schema_pid = os.getpid()

    def _create_schema(self) -> None:
        try:
            conn = self._connection()
            self._backend.begin(conn, write=True)
        except self._backend.errors as exc:
            self._drop_connection()
            raise InboxUnavailable(f"inbox unreachable: {exc}") from exc
        try:
            self._backend.lock_schema(conn)
            for statement in self._backend.schema:
                conn.execute(statement)
            self._backend.commit(conn)
        except self._backend.errors as exc:
            self._abandon(conn)
            raise InboxUnavailable(f"inbox schema could not be created: {exc}") from exc

    # -- the receiver's side ----------------------------------------------------------------

    def append(self, events: list[InboundEvent]) -> AppendResult:
        """Store one delivery's events, committed before returning; skip known deliveries.

        Concurrent appends of one process share a transaction (group commit, see
        `_GroupCommit`): each call still returns only after the commit that holds its rows.
        Raises InboxUnavailable when that commit fails: then nothing of the delivery is stored.
        """
        rows = _rows(events)
        if not rows:
            return AppendResult(0, len(events))
        return self._group().submit(rows, len(events))

    def _group(self) -> _GroupCommit:
        group = self._group_commit
        if group is None or group.pid != os.getpid():  # a fork gets its own queue
            with self._schema_lock:
                group = self._group_commit
                if group is None or group.pid != os.getpid():
                    group = self._group_commit = _GroupCommit(self._commit_group)
        return group

    def _commit_group(self, pending: list[_Pending]) -> list[AppendResult]:
        """ONE transaction (one INSERT statement) for several deliveries; their results, in
        order, once it has committed.

        The rows of every delivery go into one multi-row INSERT, so a group costs one statement
        however many deliveries it holds; a known delivery id stores nothing. A delivery id
        repeated across the group counts as inserted for the first delivery that carries it, a
        duplicate for the others.
        """
        rows = [row for item in pending for row in item.rows]
        conn = self._writer_connection()
        if self._backend.single_statement_commit and len(rows) <= _INSERT_CHUNK:
            stored = self._insert_alone(conn, rows)
        else:
            stored = self._insert_in_transaction(conn, rows)
        results = []
        for item in pending:
            inserted = 0
            for row in item.rows:
                key = (row[0], row[1], row[2])
                if key in stored:
                    stored.discard(key)  # the first delivery carrying it stored it
                    inserted += 1
            results.append(AppendResult(inserted, item.events - inserted))
        return results

    def _insert_alone(self, conn: Any, rows: list[tuple]) -> set[tuple]:
        """SQLite: the INSERT is its own transaction (see `SQLiteBackend.insert_committed`);
        the keys it stored."""
        try:
            inserted, last_id = self._backend.insert_committed(
                conn, _insert_sql(self._backend, len(rows), returning=False), _flat(rows)
            )
            if inserted == len(rows):
                return {(r[0], r[1], r[2]) for r in rows}
            if inserted == 0:
                return set()
            # Some were known already: which did it store? One statement under the write lock
            # gives its rows consecutive ids (each new id is max(id) + 1), ending at last_id.
            return set(
                conn.execute(
                    "SELECT provider, integration_id, delivery_id FROM webhook_events "
                    "WHERE id > ? AND id <= ?",
                    (last_id - inserted, last_id),
                ).fetchall()
            )
        except self._backend.errors as exc:
            self._drop_writer()
            raise InboxUnavailable(f"inbox could not commit: {exc}") from exc

    def _insert_in_transaction(self, conn: Any, rows: list[tuple]) -> set[tuple]:
        """BEGIN, the INSERT in chunks (RETURNING names the rows stored), COMMIT; the keys
        stored. Postgres always; SQLite for groups of more than _INSERT_CHUNK rows."""
        stored: set[tuple] = set()
        try:
            self._backend.begin(conn, write=True, ordered=True)
        except self._backend.errors as exc:
            self._drop_writer()
            raise InboxUnavailable(f"inbox unreachable: {exc}") from exc
        try:
            cursor = conn.cursor()
            for start in range(0, len(rows), _INSERT_CHUNK):
                chunk = rows[start : start + _INSERT_CHUNK]
                cursor.execute(_insert_sql(self._backend, len(chunk), returning=True), _flat(chunk))
                stored.update(tuple(r) for r in cursor.fetchall())
            self._backend.commit(conn)
        except self._backend.errors as exc:
            self._abandon_writer(conn)
            raise InboxUnavailable(f"inbox could not commit: {exc}") from exc
        except BaseException:
            self._abandon_writer(conn)
            raise
        return stored

    def _writer_connection(self) -> Any:
        """The process's one connection for appends (only the group's leader writes).

        One connection rather than the leader thread's own: its page cache and prepared INSERT
        stay warm from one group to the next, whichever thread leads."""
        held = self._writer
        pid = os.getpid()
        if held is not None and held[0] == pid:
            return held[1]
        if held is not None:
            _INHERITED.append(held[1])  # a parent's connection: never use or close it here
        self._ensure_schema()
        try:
            conn = self._backend.connect(shared=True)
        except self._backend.errors as exc:
            raise InboxUnavailable(f"inbox unreachable: {exc}") from exc
        self._writer = (pid, conn)
        return conn

    def _drop_writer(self) -> None:
        held, self._writer = self._writer, None
        if held is not None and held[0] == os.getpid():
            with contextlib.suppress(Exception):  # being discarded either way
                held[1].close()

    def _abandon_writer(self, conn: Any) -> None:
        try:
            self._backend.rollback(conn)
        except self._backend.errors:
            self._drop_writer()

    # -- the sensor's side ------------------------------------------------------------------

    def fetch_ready(
        self, *, after_id: int = 0, limit: int = 1000, now: datetime | None = None
    ) -> list[StoredEvent]:
        """Events to process, by id: pending past `after_id`, and any replayed or due retry."""
        at = _epoch(now)
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                self._backend.sql(FETCH_READY), (int(after_id), at, int(after_id), int(limit))
            ).fetchall()
        return [_stored(r) for r in rows]

    def get(self, ids: Sequence[int]) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        with self._transaction(write=False) as conn:
            for chunk in _chunks(ids):
                sql = f"SELECT {STORED_COLUMNS} FROM webhook_events WHERE id IN {_in(chunk)}"
                out.extend(_stored(r) for r in conn.execute(self._backend.sql(sql), chunk))
        return sorted(out, key=lambda e: e.id)

    def mark_dispatched(self, ids: Sequence[int], run_key: str) -> None:
        """A run was requested for these events (not yet done): they leave the ready set."""
        self._update(
            ids,
            "status = 'dispatched', run_key = ?, next_attempt_at = NULL, updated_at = ?",
            (run_key, clock.time()),
            "status IN ('pending', 'failed', 'dispatched')",
        )

    def mark_processed(self, ids: Sequence[int]) -> None:
        self._update(
            ids,
            "status = 'processed', next_attempt_at = NULL, last_error = NULL, updated_at = ?",
            (clock.time(),),
            "status IN ('pending', 'failed', 'dispatched')",
        )

    def _update(self, ids: Sequence[int], assignments: str, values: tuple, condition: str) -> None:
        with self._transaction(write=True) as conn:
            for chunk in _chunks(ids):
                sql = f"UPDATE webhook_events SET {assignments} WHERE id IN {_in(chunk)} AND {condition}"
                conn.execute(self._backend.sql(sql), (*values, *chunk))

    def mark_failed(
        self,
        ids: Sequence[int],
        reason: str,
        retry_schedule: Sequence[float],
        now: datetime | None = None,
    ) -> list[int]:
        """Count a failed attempt; schedule the next one, or dead-letter after the last.

        attempts += 1; while attempts <= len(retry_schedule) the event waits
        retry_schedule[attempts - 1] seconds, after that it moves to the dead-letter table.
        Events already processed or dead are left alone. Returns the ids dead-lettered.
        """
        at = _epoch(now)
        reason = reason[:MAX_REASON_CHARS]
        dead: list[int] = []
        with self._transaction(write=True) as conn:
            for chunk in _chunks(ids):
                rows = conn.execute(
                    self._backend.sql(
                        f"SELECT id, attempts FROM webhook_events WHERE id IN {_in(chunk)} "
                        "AND status IN ('pending', 'dispatched', 'failed')"
                    ),
                    chunk,
                ).fetchall()
                dead.extend(self._count_attempts(conn, rows, reason, retry_schedule, at, wait=True))
        if dead:
            log.warning("%d webhook events dead-lettered: %s", len(dead), reason[:200])
        return dead

    def stale_dispatched(
        self, *, older_than: timedelta, now: datetime | None = None, limit: int = 1000
    ) -> list[StoredEvent]:
        """Events dispatched at least `older_than` ago and still dispatched, by id.

        A run normally settles its events within minutes; one still dispatched long after may
        have lost its run (the sensor died before Dagster stored the run request). Whether the
        run exists is for the caller to ask Dagster; `requeue` then returns the events.
        """
        cutoff = _epoch(now) - older_than.total_seconds()
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                self._backend.sql(STALE_DISPATCHED), (cutoff, int(limit))
            ).fetchall()
        return [_stored(r) for r in rows]

    def requeue(
        self,
        ids: Sequence[int],
        reason: str,
        *,
        run_key: str,
        retry_schedule: Sequence[float],
        now: datetime | None = None,
    ) -> Requeued:
        """Return events still dispatched under `run_key` to the ready set, due at once.

        For dispatches whose run never settles them (it was never created, or it ended without
        a word). The lost dispatch counts as an attempt, exactly like a failed run: attempts
        enter the run key, so the next dispatch gets a new key, and an event past the last
        attempt of `retry_schedule` is dead-lettered with the reason instead of cycling. Only
        events whose status and run key are unchanged move (checked in the same transaction),
        so a run or a run-status sensor that settled them meanwhile wins and nothing counts
        twice.
        """
        at = _epoch(now)
        reason = reason[:MAX_REASON_CHARS]
        moved: list[int] = []
        dead: list[int] = []
        with self._transaction(write=True) as conn:
            for chunk in _chunks(ids):
                rows = conn.execute(
                    self._backend.sql(
                        f"SELECT id, attempts FROM webhook_events WHERE id IN {_in(chunk)} "
                        "AND status = 'dispatched' AND run_key = ?"
                    ),
                    (*chunk, run_key),
                ).fetchall()
                moved.extend(int(r[0]) for r in rows)
                dead.extend(
                    self._count_attempts(conn, rows, reason, retry_schedule, at, wait=False)
                )
        if dead:
            log.warning("%d webhook events dead-lettered: %s", len(dead), reason[:200])
        return Requeued(requeued=sorted(set(moved) - set(dead)), dead_lettered=sorted(dead))

    def _count_attempts(
        self,
        conn: Any,
        rows: Sequence[Sequence[Any]],
        reason: str,
        retry_schedule: Sequence[float],
        at: float,
        *,
        wait: bool,
    ) -> list[int]:
        """attempts += 1 for each (id, attempts) row: failed and due after the schedule's wait
        (or at once when not `wait`), or dead-lettered past the last attempt. Returns dead ids."""
        sql = self._backend.sql
        dead: list[int] = []
        for event_id, attempts in rows:
            attempts += 1
            if attempts <= len(retry_schedule):
                due = at + float(retry_schedule[attempts - 1]) if wait else at
                conn.execute(
                    sql(
                        "UPDATE webhook_events SET status = 'failed', attempts = ?, "
                        "next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?"
                    ),
                    (attempts, due, reason, at, event_id),
                )
                continue
            conn.execute(
                sql(
                    "UPDATE webhook_events SET status = 'dead', attempts = ?, "
                    "next_attempt_at = NULL, last_error = ?, updated_at = ? WHERE id = ?"
                ),
                (attempts, reason, at, event_id),
            )
            conn.execute(
                sql(
                    f"INSERT INTO webhook_dead_letters ({EVENT_COLUMNS}, event_id, reason, "
                    f"attempts, dead_at) SELECT {EVENT_COLUMNS}, id, ?, ?, ? "
                    "FROM webhook_events WHERE id = ? "
                    "ON CONFLICT (event_id) DO UPDATE SET reason = excluded.reason, "
                    "attempts = excluded.attempts, dead_at = excluded.dead_at"
                ),
                (reason, attempts, at, event_id),
            )
            dead.append(int(event_id))
        return dead

    # -- dead letters -----------------------------------------------------------------------

    def dead_letters(
        self, *, integration_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        sql = f"SELECT {DEAD_COLUMNS} FROM webhook_dead_letters"
        params: list[Any] = []
        if integration_id is not None:
            sql += " WHERE integration_id = ?"
            params.append(integration_id)
        sql += " ORDER BY event_id LIMIT ?"
        params.append(int(limit))
        with self._transaction(write=False) as conn:
            rows = conn.execute(self._backend.sql(sql), params).fetchall()
        return [_dead_letter(r) for r in rows]

    def replay_dead_letters(
        self, ids: Sequence[int] | None = None, *, integration_id: str | None = None
    ) -> int:
        """Send dead letters (by event id; all of them when `ids` is None) back to pending.

        Attempts and error are reset and the event becomes due now, so `fetch_ready` returns it
        even though its id is behind the sensor's cursor. Returns how many were replayed.
        """
        conditions: list[str] = []
        params: list[Any] = []
        if integration_id is not None:
            conditions.append("integration_id = ?")
            params.append(integration_id)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = self._backend.sql
        now = clock.time()
        with self._transaction(write=True) as conn:
            if ids is None:
                candidates = [
                    r[0]
                    for r in conn.execute(
                        sql(f"SELECT event_id FROM webhook_dead_letters{where}"), params
                    ).fetchall()
                ]
            else:
                candidates = []
                for chunk in _chunks(ids):
                    extra = f" AND {' AND '.join(conditions)}" if conditions else ""
                    candidates.extend(
                        r[0]
                        for r in conn.execute(
                            sql(
                                "SELECT event_id FROM webhook_dead_letters "
                                f"WHERE event_id IN {_in(chunk)}{extra}"
                            ),
                            (*chunk, *params),
                        ).fetchall()
                    )
            for chunk in _chunks(candidates):
                conn.execute(
                    sql(
                        "UPDATE webhook_events SET status = 'pending', attempts = 0, "
                        "next_attempt_at = ?, last_error = NULL, run_key = NULL, updated_at = ? "
                        f"WHERE id IN {_in(chunk)}"
                    ),
                    (now, now, *chunk),
                )
                conn.execute(
                    sql(f"DELETE FROM webhook_dead_letters WHERE event_id IN {_in(chunk)}"), chunk
                )
        return len(candidates)

    # -- operations -------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Events by status (every status present, zeros included), for metrics and health."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT status, COUNT(*) FROM webhook_events GROUP BY status"
            ).fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    def purge(self, *, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete processed events received before now - older_than; returns how many.

        Their delivery ids stop deduplicating, so keep `older_than` beyond every provider's
        redelivery horizon (HubSpot about a day, GitHub manual redeliveries up to 3 days).
        """
        cutoff = clock.time() - older_than.total_seconds()
        with self._transaction(write=True) as conn:
            # The newest row always stays: SQLite gives a new row max(id) + 1, so keeping the
            # maximum is what guarantees ids never go back (the sensor's cursor relies on it).
            cursor = conn.execute(
                self._backend.sql(
                    "DELETE FROM webhook_events WHERE status = 'processed' AND received_at < ? "
                    "AND id < (SELECT MAX(id) FROM webhook_events)"
                ),
                (cutoff,),
            )
            return cursor.rowcount

    def erase_objects(
        self, provider: str, integration_id: str, object_type: str, object_ids: Sequence[str]
    ) -> int:
        """Remove every event and dead letter about these objects (an erasure request: their
        payloads hold the person's data); returns how many rows were removed or blanked.

        The inbox's newest event is blanked instead of deleted (payload and headers `{}`, no
        object id, processed): as in `purge`, keeping the maximum id keeps ids from going back.
        """
        ids = sorted({str(i) for i in object_ids})
        sql = self._backend.sql
        where = "provider = ? AND integration_id = ? AND object_type = ? AND object_id IN "
        touched = 0
        sqlite = self._backend.name == "sqlite"
        if sqlite:  # overwrite deleted content in the file instead of leaving it in free pages
            self._ensure_schema()
            self._connection().execute("PRAGMA secure_delete = ON")
        with self._transaction(write=True) as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start : start + _ID_CHUNK]
                params = (provider, integration_id, object_type, *chunk)
                marks = _in(list(range(len(chunk))))
                touched += conn.execute(
                    sql(f"DELETE FROM webhook_dead_letters WHERE {where}{marks}"), params
                ).rowcount
                touched += conn.execute(
                    sql(
                        "UPDATE webhook_events SET payload = ?, headers = '{}', object_id = NULL, "
                        "status = 'processed', next_attempt_at = NULL, last_error = NULL, "
                        f"updated_at = ? WHERE {where}{marks} "
                        "AND id = (SELECT MAX(id) FROM webhook_events)"
                    ),
                    (b"{}", clock.time(), *params),
                ).rowcount
                touched += conn.execute(
                    sql(f"DELETE FROM webhook_events WHERE {where}{marks}"), params
                ).rowcount
        if sqlite and touched:  # and out of the write-ahead log
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return touched


def _rows(events: list[InboundEvent]) -> list[tuple]:
    """Insert parameters of one delivery's events, repeated delivery ids dropped."""
    rows = []
    seen: set[tuple[str, str, str]] = set()
    headers_json: dict[int, str] = {}  # the events of one delivery share one headers dict
    now = clock.time()
    for e in events:
        key = (e.provider, e.integration_id, e.delivery_id)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            (
                e.provider,
                e.integration_id,
                e.delivery_id,
                e.event_type,
                e.object_type,
                e.object_id,
                e.payload,
                headers_json.get(id(e.headers))
                or headers_json.setdefault(
                    id(e.headers), orjson.dumps(e.headers, option=orjson.OPT_NON_STR_KEYS).decode()
                ),
                e.verification,
                e.received_at.timestamp(),
                now,
            )
        )
    return rows


_INSERT_SQL: dict[tuple[str, int, bool], str] = {}


def _insert_sql(backend: Any, rows: int, *, returning: bool) -> str:
    """The multi-row INSERT for `rows` rows in the backend's placeholder style (cached)."""
    key = (backend.name, rows, returning)
    sql = _INSERT_SQL.get(key)
    if sql is None:
        text = INSERT_EVENTS + ", ".join([INSERT_VALUES] * rows) + INSERT_CONFLICT
        sql = _INSERT_SQL[key] = backend.sql(text + INSERT_RETURNING if returning else text)
    return sql


def _flat(rows: list[tuple]) -> tuple:
    return rows[0] if len(rows) == 1 else tuple(v for row in rows for v in row)


class _Pending:
    """One delivery in a group commit: its rows, and what happened to them."""

    __slots__ = ("rows", "events", "wake", "lead", "result", "error")

    def __init__(self, rows: list[tuple], events: int) -> None:
        self.rows = rows
        self.events = events
        # Held while the delivery waits in the queue; released by the thread that settles it
        # (or hands it the lead). A bare lock: the cheapest wait-and-wake there is.
        self.wake: Any = None
        self.lead = False  # woken to commit the next group rather than with a result
        self.result: AppendResult | None = None
        self.error: BaseException | None = None


class _GroupCommit:
    """Group commit: concurrent deliveries of one process share one transaction.

    The writers' lock, BEGIN, the INSERT and COMMIT (and the WAL frames of a commit) are paid
    once per group instead of once per delivery, which is what serialised the receiver's
    threads. A caller that finds nobody committing commits its own rows at once (the fast
    path: no queue, no hand-off). Callers arriving meanwhile queue; when the commit is done,
    the first of them is woken to lead the next group, which holds everything queued by then.
    A caller returns only when the commit holding its rows has completed (every 2xx is still
    after its commit). When a group fails, each of its deliveries is retried alone, so one bad
    delivery cannot fail the others.
    """

    def __init__(self, commit: Callable[[list[_Pending]], list[AppendResult]]) -> None:
        self.pid = os.getpid()
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._busy = False

    def submit(self, rows: list[tuple], events: int) -> AppendResult:
        mine = _Pending(rows, events)
        with self._lock:
            if self._busy:
                mine.wake = wake = threading.Lock()
                wake.acquire()
                self._queue.append(mine)
            else:
                self._busy = True
        if mine.wake is None:  # nobody was committing: commit alone, now
            group = [mine]
        else:
            mine.wake.acquire()  # until settled, or handed the lead
            if not mine.lead:
                return _outcome(mine)
            with self._lock:
                group, self._queue = self._queue, []
        try:
            self._settle(group, mine)
        finally:
            self._hand_over()
        return _outcome(mine)

    def _hand_over(self) -> None:
        """Wake the first queued delivery to lead the next group, or mark the queue idle."""
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.release()
            else:
                self._busy = False

    def _settle(self, group: list[_Pending], leader: _Pending) -> None:
        try:
            results = self._commit(group)
        except BaseException as exc:  # noqa: BLE001 - handed to the callers it concerns
            if len(group) == 1:
                group[0].error = exc
            else:
                for item in group:  # alone, so one bad delivery cannot fail the others
                    self._settle([item], leader)
                return
        else:
            for item, result in zip(group, results, strict=True):
                item.result = result
        for item in group:
            if item is not leader:
                item.wake.release()


def _outcome(item: _Pending) -> AppendResult:
    if item.error is not None:
        raise item.error
    assert item.result is not None
    return item.result


def _event_fields(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "provider": row[0],
        "integration_id": row[1],
        "delivery_id": row[2],
        "event_type": row[3],
        "object_type": row[4],
        "object_id": row[5],
        "payload": bytes(row[6]),
        "headers": json.loads(row[7]),
        "verification": row[8],
        "received_at": _moment(row[9]),
    }


def _stored(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        **_event_fields(row),
        id=int(row[10]),
        status=row[11],
        attempts=int(row[12]),
        next_attempt_at=_moment(row[13]),
        last_error=row[14],
        run_key=row[15],
    )


def _dead_letter(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        **_event_fields(row),
        event_id=int(row[10]),
        reason=row[11],
        attempts=int(row[12]),
        dead_at=_moment(row[13]),
    )
