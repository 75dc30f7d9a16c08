"""Group commit (issue 9 item 7): concurrent appends of one process share a transaction, each
returns only after the commit holding its rows, duplicates are counted per delivery, and one
delivery that cannot be stored does not fail the others of its group."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

import pytest

from inbox import AppendResult, Inbox, InboxUnavailable
from tests.unit.test_webhook_inbox import event

THREADS = 12


def count_commits(inbox: Inbox, monkeypatch, *, delay_s: float = 0.0) -> list[int]:
    """Count the backend's write commits (and slow them down, to let deliveries queue): COMMITs,
    and on SQLite the appends' INSERTs that are their own transaction."""
    backend = inbox._backend
    commits: list[int] = []
    real = backend.commit

    def commit(conn):
        time.sleep(delay_s)
        commits.append(threading.get_ident())
        return real(conn)

    monkeypatch.setattr(backend, "commit", commit)
    if backend.single_statement_commit:
        real_insert = backend.insert_committed

        def insert_committed(conn, sql, params):
            time.sleep(delay_s)
            commits.append(threading.get_ident())
            return real_insert(conn, sql, params)

        monkeypatch.setattr(backend, "insert_committed", insert_committed)
    return commits


def concurrently(calls) -> list:
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i, call):
        start.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_deliveries_share_commits(inbox, monkeypatch):
    commits = count_commits(inbox, monkeypatch, delay_s=0.05)
    results = concurrently([lambda i=i: inbox.append([event(str(i))]) for i in range(THREADS)])
    assert results == [AppendResult(1, 0)] * THREADS
    assert len(inbox.fetch_ready()) == THREADS
    # One delivery per commit was the old path; grouped, the first commit holds one and the
    # ones that queued meanwhile share the next few.
    assert len(commits) <= THREADS // 2, commits


def test_an_append_returns_only_after_its_rows_are_committed(inbox, monkeypatch, tmp_path):
    if inbox.backend != "sqlite":
        pytest.skip("reads the SQLite file from a second connection")
    count_commits(inbox, monkeypatch, delay_s=0.02)
    seen_after_return: list[bool] = []

    def deliver(i: int) -> None:
        inbox.append([event(f"d{i}")])
        with sqlite3.connect(tmp_path / "inbox.sqlite") as other:
            found = other.execute(
                "SELECT count(*) FROM webhook_events WHERE delivery_id = ?", (f"d{i}",)
            ).fetchone()[0]
        seen_after_return.append(found == 1)

    concurrently([lambda i=i: deliver(i) for i in range(THREADS)])
    assert seen_after_return == [True] * THREADS


def test_duplicates_are_counted_per_delivery_within_a_group(inbox, monkeypatch):
    count_commits(inbox, monkeypatch, delay_s=0.05)
    inbox.append([event("1")])
    calls = [lambda: inbox.append([event("1"), event("2")]) for _ in range(6)]
    results = concurrently(calls)
    assert sorted(r.inserted for r in results) == [0, 0, 0, 0, 0, 1]
    assert sum(r.duplicates for r in results) == 11
    assert sorted(e.delivery_id for e in inbox.fetch_ready()) == ["1", "2"]


def test_one_delivery_that_cannot_be_stored_does_not_fail_its_group(inbox, monkeypatch):
    count_commits(inbox, monkeypatch, delay_s=0.05)
    bad = event("bad", event_type=None)  # NOT NULL: this insert fails
    calls = [lambda i=i: inbox.append([event(str(i))]) for i in range(5)]
    calls.append(lambda: inbox.append([bad]))
    results = concurrently(calls)
    assert results[:5] == [AppendResult(1, 0)] * 5
    assert isinstance(results[5], InboxUnavailable)
    assert sorted(e.delivery_id for e in inbox.fetch_ready()) == ["0", "1", "2", "3", "4"]


def test_a_failed_commit_fails_every_delivery_of_it_and_stores_nothing(tmp_path, monkeypatch):
    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    inbox.create_schema()

    def broken(conn, *args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(inbox._backend, "commit", broken)
    monkeypatch.setattr(inbox._backend, "insert_committed", broken)
    results = concurrently([lambda i=i: inbox.append([event(str(i))]) for i in range(4)])
    assert all(isinstance(r, InboxUnavailable) for r in results)
    monkeypatch.undo()
    assert inbox.fetch_ready() == []


def test_deliveries_wait_for_another_process_holding_the_writers_lock(tmp_path):
    """The group still takes the cross-process lock: nothing commits while another holds it."""
    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    inbox.create_schema()
    fd = os.open(tmp_path / "inbox.sqlite.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done: list = []
    worker = threading.Thread(target=lambda: done.append(inbox.append([event("x")])))
    worker.start()
    time.sleep(0.2)
    assert done == []
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    worker.join(5)
    assert done == [AppendResult(1, 0)]


def test_a_group_is_one_insert_and_the_appends_share_one_connection(tmp_path, monkeypatch):
    """However many deliveries a group holds, it costs one INSERT statement, and every thread's
    appends go through the process's one writer connection (warm cache, prepared statement)."""
    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    inbox.create_schema()
    statements: list[str] = []
    opened: list[int] = []
    real_connect = inbox._backend.connect

    def connect(**kwargs):
        conn = real_connect(**kwargs)
        opened.append(threading.get_ident())
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(inbox._backend, "connect", connect)
    commits = count_commits(inbox, monkeypatch, delay_s=0.05)
    results = concurrently([lambda i=i: inbox.append([event(str(i))]) for i in range(THREADS)])
    assert results == [AppendResult(1, 0)] * THREADS
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == len(commits) < THREADS, (len(inserts), len(commits))
    assert len(opened) == 1, opened


def test_the_fast_path_alone_commits_at_once_and_sees_duplicates(inbox):
    assert inbox.append([event("a"), event("b")]) == AppendResult(2, 0)
    assert inbox.append([event("b"), event("c")]) == AppendResult(1, 1)
    assert inbox.append([event("c"), event("c")]) == AppendResult(0, 2)
    assert sorted(e.delivery_id for e in inbox.fetch_ready()) == ["a", "b", "c"]


def test_a_group_larger_than_one_statement_commits_all_or_nothing(inbox):
    """Over _INSERT_CHUNK rows the INSERT is split into chunks inside one transaction."""
    inbox.append([event("7")])
    many = [event(str(i)) for i in range(1, 1201)]
    assert inbox.append(many) == AppendResult(1199, 1)
    assert len(inbox.fetch_ready(limit=5000)) == 1200
    bad = [event(f"x{i}") for i in range(1200)] + [event("bad", event_type=None)]
    with pytest.raises(InboxUnavailable):
        inbox.append(bad)
    assert len(inbox.fetch_ready(limit=5000)) == 1200
