"""Unit-test fixtures. `inbox`: the inbox on each backend, for its contract tests: SQLite (WAL) always, Postgres when
the server is there (REQUIRE_SERVICES=1 makes its absence a failure). The clock is frozen at T0."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.clock import clock
from inbox import Inbox

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


# Test modules that need their own `inbox` define one; theirs wins over this one.
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def inbox(request, tmp_path):
    if request.param == "sqlite":
        box = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    else:
        box = Inbox(request.getfixturevalue("postgres_url"))
    box.create_schema()
    clock.freeze(T0.timestamp())
    yield box
    clock.reset()
    box.close()
