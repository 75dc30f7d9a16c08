"""Files and directories only their owner can read: the data directory (0700) and the SQLite
databases in it (0600).

They hold integration configs, the encrypted vault, the audit log and every webhook payload;
the process umask (often 022) would leave them world-readable. SQLite gives a database's -wal
and -shm files the permissions of the database file, so creating the file 0600 first covers
them. Tightening an existing path is best effort: a path this user does not own is left as it is
(the operator chose it) rather than failing the start.

An existing database file is never opened here, only chmod-ed by path: closing ANY descriptor of
a file drops every POSIX lock the process holds on it, so opening and closing a database that
another thread of this process is using would silently release that thread's SQLite locks and
corrupt the database (seen as "disk I/O error" and "file is not a database" under load). A
missing file is created and closed under a lock that every caller takes before it looks, so no
connection of this process can open the file before that descriptor is closed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing, and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


_CREATE_LOCK = threading.Lock()


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if missing (its directory 0700 too); else make it 0600
    without opening it (see the module docstring: never open a live SQLite file)."""
    with _CREATE_LOCK:
        if not path.exists():
            if not path.parent.exists():
                private_dir(path.parent)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:  # another process created it meanwhile
                pass
            else:
                os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def private_sqlite(path: Path) -> Path:
    """`private_file` for a SQLite database, and its -wal, -shm and -journal files if present
    (created by an older version with the umask's mode)."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, FILE_MODE)
    return path


def sqlite_file_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (SQLAlchemy's spelling), None for memory or others."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1] if "://" in url else ""
    path = rest[1:].split("?", 1)[0] if rest.startswith("/") else ""
    if not path or ":memory:" in path or path.startswith("file:"):
        return None
    return Path(path)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid() and (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
