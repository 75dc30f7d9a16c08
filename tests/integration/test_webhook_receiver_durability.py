"""A row `append` has returned for survives a SIGKILL of the writing process, on both backends
(SQLite WAL with synchronous=NORMAL: the commit reached the OS before append returned)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inbox import Inbox

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from inbox import InboundEvent, Inbox

    inbox = Inbox(sys.argv[1])
    i = 0
    while True:
        i += 1
        event = InboundEvent("github", "killed", f"d-{i}", "push", None, None, b"{}", {},
                             "github-sha256", datetime.now(UTC))
        inbox.append([event])
        print(i, flush=True)  # acknowledged only after the commit
    """
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def inbox_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_acknowledged_appends_survive_sigkill(inbox_url):
    Inbox(inbox_url).create_schema()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, inbox_url],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 300:
            break
    os.kill(writer.pid, signal.SIGKILL)
    acknowledged += [int(line) for line in writer.stdout.read().split()]
    writer.wait()

    inbox = Inbox(inbox_url)
    stored = {int(e.delivery_id[2:]) for e in inbox.fetch_ready(limit=1_000_000)}
    assert writer.returncode == -signal.SIGKILL
    assert set(acknowledged) <= stored
    assert len(stored) in (len(acknowledged), len(acknowledged) + 1)  # at most one unacknowledged
