"""Files and directories only their owner can read: the data directory (0700) and the SQLite
databases in it (0600).

They hold integration configs, the encrypted vault, the audit log and every webhook payload;
the process umask (often 022) would leave them world-readable. SQLite gives a database's -wal
and -shm files the permissions of the database file, so creating the file 0600 first covers
them. Tightening an existing path is best effort: a path this user does not own is left as it is
(the operator chose it) rather than failing the start.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing, and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if missing (its directory too), and make it 0600."""
    if not path.parent.exists():
        private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
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
