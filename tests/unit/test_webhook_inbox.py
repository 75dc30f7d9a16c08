"""The inbox contract on both backends: idempotent appends, the sensor's ready set, retries with
backoff, dead letters and their replay, counts, purge, and a clear InboxUnavailable."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from core.clock import clock
from inbox import AppendResult, InboundEvent, Inbox, InboxUnavailable
from tests.unit.conftest import T0

SCHEDULE = [30.0, 120.0]


def event(delivery_id: str, integration_id: str = "acme", **kw) -> InboundEvent:
    fields = {
        "provider": "hubspot",
        "integration_id": integration_id,
        "delivery_id": delivery_id,
        "event_type": "contact.propertyChange",
        "object_type": "contacts",
        "object_id": "101",
        "payload": b'{"eventId":%s}' % delivery_id.encode(),
        "headers": {"content-type": "application/json"},
        "verification": "hubspot-v3",
        "received_at": T0,
    }
    fields.update(kw)
    return InboundEvent(**fields)


def test_append_stores_every_field_and_returns_counts(inbox):
    result = inbox.append([event("1"), event("2", object_id=None, object_type=None)])

    assert result == AppendResult(inserted=2, duplicates=0)
    first, second = inbox.fetch_ready()
    assert first.delivery_id == "1" and second.delivery_id == "2"
    assert first.id < second.id
    assert first.payload == b'{"eventId":1}'
    assert first.headers == {"content-type": "application/json"}
    assert first.received_at == T0
    assert (first.status, first.attempts, first.next_attempt_at, first.run_key) == (
        "pending",
        0,
        None,
        None,
    )
    assert second.object_id is None and second.object_type is None


def test_redelivery_is_a_duplicate_and_stores_nothing(inbox):
    inbox.append([event("1")])

    again = inbox.append([event("1", payload=b"{}"), event("2"), event("2")])

    assert again == AppendResult(inserted=1, duplicates=2)
    assert [e.delivery_id for e in inbox.fetch_ready()] == ["1", "2"]
    assert inbox.fetch_ready()[0].payload == b'{"eventId":1}'


def test_the_same_delivery_id_of_another_integration_or_provider_is_new(inbox):
    inbox.append([event("1")])

    result = inbox.append([event("1", integration_id="other"), event("1", provider="github")])

    assert result.inserted == 2
    assert inbox.counts()["pending"] == 3


def test_fetch_ready_follows_the_cursor_in_id_order(inbox):
    inbox.append([event(str(i)) for i in range(1, 6)])
    ids = [e.id for e in inbox.fetch_ready()]

    assert [e.id for e in inbox.fetch_ready(after_id=ids[1])] == ids[2:]
    assert [e.id for e in inbox.fetch_ready(after_id=ids[1], limit=2)] == ids[2:4]
    assert inbox.fetch_ready(after_id=ids[-1]) == []


def test_dispatched_and_processed_events_leave_the_ready_set(inbox):
    inbox.append([event("1"), event("2"), event("3")])
    one, two, three = (e.id for e in inbox.fetch_ready())

    inbox.mark_dispatched([one, two], run_key="run-abc")
    inbox.mark_processed([two])

    assert [e.id for e in inbox.fetch_ready()] == [three]
    stored = {e.id: e for e in inbox.get([one, two, three])}
    assert (stored[one].status, stored[one].run_key) == ("dispatched", "run-abc")
    assert stored[two].status == "processed"
    assert inbox.counts() == {
        "pending": 1,
        "dispatched": 1,
        "processed": 1,
        "failed": 0,
        "dead": 0,
    }


def test_failed_events_come_back_when_their_retry_is_due_even_behind_the_cursor(inbox):
    inbox.append([event("1"), event("2")])
    first, second = inbox.fetch_ready()
    inbox.mark_dispatched([first.id, second.id], "run-1")

    dead = inbox.mark_failed([first.id], "dagster run failed", SCHEDULE, now=T0)

    assert dead == []
    (failed,) = inbox.get([first.id])
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "dagster run failed",
    )
    assert failed.next_attempt_at == T0 + timedelta(seconds=30)
    cursor = second.id
    assert inbox.fetch_ready(after_id=cursor, now=T0 + timedelta(seconds=29)) == []
    due = inbox.fetch_ready(after_id=cursor, now=T0 + timedelta(seconds=30))
    assert [e.id for e in due] == [first.id]


def test_backoff_follows_the_schedule_then_the_event_is_dead_lettered(inbox):
    inbox.append([event("1", integration_id="acme"), event("2", integration_id="other")])
    ids = [e.id for e in inbox.fetch_ready()]

    assert inbox.mark_failed(ids, "boom 1", SCHEDULE, now=T0) == []
    second_try = T0 + timedelta(seconds=30)
    assert inbox.mark_failed(ids, "boom 2", SCHEDULE, now=second_try) == []
    assert inbox.get(ids)[0].next_attempt_at == second_try + timedelta(seconds=120)
    dead = inbox.mark_failed(ids, "boom 3", SCHEDULE, now=T0 + timedelta(seconds=200))

    assert dead == ids
    assert inbox.fetch_ready(now=T0 + timedelta(days=30)) == []
    assert inbox.counts()["dead"] == 2
    letters = inbox.dead_letters()
    assert [(d.event_id, d.reason, d.attempts) for d in letters] == [
        (ids[0], "boom 3", 3),
        (ids[1], "boom 3", 3),
    ]
    assert letters[0].payload == b'{"eventId":1}'
    assert letters[0].dead_at == T0 + timedelta(seconds=200)
    assert [d.event_id for d in inbox.dead_letters(integration_id="other")] == [ids[1]]
    # a dead or processed event is not failed again
    assert inbox.mark_failed(ids, "late", SCHEDULE) == []


def test_replayed_dead_letters_are_pending_again_and_ready_behind_the_cursor(inbox):
    inbox.append([event("1"), event("2", integration_id="other"), event("3")])
    ids = [e.id for e in inbox.fetch_ready()]
    inbox.mark_failed(ids[:2], "broken mapping", [], now=T0)
    cursor = ids[-1]
    inbox.mark_processed([ids[-1]])

    assert inbox.replay_dead_letters(integration_id="other") == 1
    assert inbox.replay_dead_letters([ids[0], 999_999]) == 1
    assert inbox.replay_dead_letters() == 0

    ready = inbox.fetch_ready(after_id=cursor)
    assert [e.id for e in ready] == ids[:2]
    assert all(e.status == "pending" and e.attempts == 0 and e.last_error is None for e in ready)
    assert inbox.dead_letters() == []
    # once dispatched, a replayed event is not ready any more
    inbox.mark_dispatched(ids[:2], "run-replay")
    assert inbox.fetch_ready(after_id=cursor) == []


def test_purge_deletes_only_processed_events_past_the_horizon(inbox):
    inbox.append([event("old"), event("old-pending")])
    inbox.append([event("new", received_at=T0 + timedelta(days=6))])
    old, old_pending, new = inbox.fetch_ready()
    inbox.mark_processed([old.id, new.id])
    clock.freeze((T0 + timedelta(days=7, seconds=1)).timestamp())

    assert inbox.purge(older_than=timedelta(days=7)) == 1

    assert [e.id for e in inbox.get([old.id, old_pending.id, new.id])] == [old_pending.id, new.id]


def test_concurrent_appends_never_commit_behind_a_reader_cursor(inbox):
    """A sensor polling with `id > cursor` sees every row exactly once under concurrent writers
    (Postgres needs its append lock for this; SQLite serializes writers anyway)."""
    writers, per_writer = 4, 40
    done = threading.Event()

    def write(w: int) -> None:
        for i in range(per_writer):
            inbox.append([event(f"{w}-{i}")])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    seen: list[str] = []
    cursor = 0

    def poll() -> None:
        nonlocal cursor
        batch = inbox.fetch_ready(after_id=cursor)
        if batch:
            cursor = batch[-1].id
            seen.extend(e.delivery_id for e in batch)

    while not done.is_set():
        poll()
        if not any(t.is_alive() for t in threads):
            done.set()
    poll()
    for t in threads:
        t.join()

    assert sorted(seen) == sorted(f"{w}-{i}" for w in range(writers) for i in range(per_writer))


def test_a_locked_sqlite_inbox_raises_inbox_unavailable_and_stores_nothing(tmp_path):
    path = tmp_path / "inbox.sqlite"
    box = Inbox(f"sqlite:///{path}?busy_timeout_ms=50")
    box.create_schema()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(InboxUnavailable):
            box.append([event("1")])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert box.counts()["pending"] == 0
    assert box.append([event("1")]).inserted == 1


def test_an_unreachable_postgres_inbox_raises_inbox_unavailable():
    with socket_port() as port:
        box = Inbox(f"postgresql://nobody@127.0.0.1:{port}/nothing")
        with pytest.raises(InboxUnavailable):
            box.append([event("1")])
        with pytest.raises(InboxUnavailable):
            box.counts()


def test_the_inbox_url_is_checked():
    with pytest.raises(ValueError, match="unsupported inbox URL"):
        Inbox("mysql://db/inbox")
    with pytest.raises(ValueError, match="not :memory:"):
        Inbox("sqlite:///:memory:")
    with pytest.raises(ValueError, match="synchronous"):
        Inbox("sqlite:///x.sqlite?synchronous=sometimes")


def test_the_sqlite_inbox_runs_in_wal_mode(tmp_path):
    box = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    box.append([event("1")])
    conn = sqlite3.connect(tmp_path / "inbox.sqlite")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


class socket_port:
    """A port nothing listens on (bound, never listening, for the test's duration)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_an_inbox_used_across_a_fork_opens_its_own_connection_in_the_child(tmp_path):
    """gunicorn --preload creates the app (and a connection) before forking the workers."""
    import os

    box = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    box.append([event("parent-1")])
    pid = os.fork()
    if pid == 0:  # the child: append through the inherited Inbox object, then leave at once
        try:
            box.append([event("child-1")])
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)

    box.append([event("parent-2")])

    assert os.waitstatus_to_exitcode(status) == 0
    assert [e.delivery_id for e in box.fetch_ready()] == ["parent-1", "child-1", "parent-2"]


def test_the_checkpointer_completes_under_steady_writes_so_the_wal_starts_over(
    tmp_path, monkeypatch
):
    """Without the locked second pass the WAL of a busy inbox grows without bound."""
    import os

    from inbox import sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "RESET_FRAMES", 10)
    # This test is the only checkpointer: the inbox's background one would race it for frames.
    monkeypatch.setattr(sqlite_backend, "_start_checkpointer", lambda *args, **kwargs: None)
    path = tmp_path / "inbox.sqlite"
    url = f"sqlite:///{path}"
    Inbox(url).append([event("first")])
    stop = threading.Event()

    written = [0]  # appends so far, read by the main thread

    def keep_writing() -> None:
        writer = Inbox(url)
        while not stop.is_set():
            written[0] += 1
            writer.append([event(f"w-{written[0]}")])

    thread = threading.Thread(target=keep_writing)
    thread.start()
    conn = sqlite3.connect(path, isolation_level=None)
    lock = os.open(f"{path}.lock", os.O_RDWR)
    try:
        completed = []
        for _ in range(3):
            # Let the writer fill the WAL past RESET_FRAMES. Wait on its progress, not with a
            # checkpoint of our own: one that copied everything would let the next commit
            # start the WAL over, and the round under test would then find it nearly empty.
            target = written[0] + 50
            while written[0] < target:
                time.sleep(0.001)
            completed.append(sqlite_backend.checkpoint(conn, lock))
    finally:
        stop.set()
        thread.join()
        os.close(lock)
    assert completed == [True, True, True]
    box = Inbox(url)
    box.append([event("after")])
    frames_in_wal = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    conn.close()
    assert frames_in_wal < 10  # the WAL started over instead of growing on
