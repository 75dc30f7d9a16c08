"""Issue 9 item 13: the data directory is 0700 and the databases, their WAL files, the inbox's
lock file and the demo's local.env are 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cli.demo import _record_local_settings
from core.settings import Settings
from inbox import Inbox
from pipelines.registry import IntegrationRegistry
from tests.webhook_receiver_support import build_receiver, hubspot_event, hubspot_v3


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The usual umask (022) that made these files world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def fresh(tmp_path: Path, encryption_key: str) -> Settings:
    return Settings(DATA_DIR=tmp_path / "data", ENCRYPTION_KEY=encryption_key, _env_file=None)


def test_the_data_dir_and_the_control_database_are_private(fresh):
    IntegrationRegistry.from_settings(fresh)
    assert mode(fresh.data_dir) == 0o700
    assert mode(fresh.data_dir / "control.sqlite") == 0o600


def test_an_existing_world_readable_data_dir_is_tightened(tmp_path, encryption_key):
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "control.sqlite").touch()
    os.chmod(data / "control.sqlite", 0o644)
    settings = Settings(DATA_DIR=data, ENCRYPTION_KEY=encryption_key, _env_file=None)
    IntegrationRegistry.from_settings(settings)
    assert mode(data) == 0o700
    assert mode(data / "control.sqlite") == 0o600


def test_the_inbox_its_wal_and_its_lock_file_are_private(fresh):
    rx = build_receiver(fresh)
    rx.add("hubspot", "acme")
    assert rx.send(hubspot_v3("acme", [hubspot_event(1)])).status_code == 202
    inbox = fresh.data_dir / "inbox.sqlite"
    files = [inbox, Path(f"{inbox}-wal"), Path(f"{inbox}-shm"), Path(f"{inbox}.lock")]
    assert {f.name: mode(f) for f in files if f.exists()} == {f.name: 0o600 for f in files}


def test_an_inbox_in_a_new_directory_gets_a_private_directory(tmp_path, fresh):
    path = tmp_path / "elsewhere" / "inbox.sqlite"
    inbox = Inbox(f"sqlite:///{path}")
    inbox.create_schema()
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


def test_the_demo_local_env_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
    data = tmp_path / "demo"
    _record_local_settings(data, lambda _line: None)
    assert mode(data) == 0o700
    assert mode(data / "local.env") == 0o600


PROBE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
print(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
"""


def test_a_new_connection_leaves_the_locks_of_open_ones_alone(tmp_path):
    """Closing any descriptor of a file drops the process's POSIX locks on it: making the file
    private must never open a live database, or a second worker thread's connect releases the
    first one's SQLite locks (another process then checkpoints or resets the WAL under it: "disk
    I/O error", "file is not a database")."""
    import subprocess
    import sys

    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(f"sqlite:///{path}")
    inbox.create_schema()
    backend = inbox._backend
    first = backend.connect()
    first.execute("SELECT count(*) FROM webhook_events").fetchone()  # holds its shared lock
    second = backend.connect()  # what each new worker thread does
    try:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=30
        )
        # Our open connections still hold the database: another process cannot leave WAL mode.
        assert probe.returncode != 0 or probe.stdout.strip() == "wal", probe.stdout
    finally:
        second.close()
        first.close()
