"""The Arrow tables the HubSpot source yields agree with the dlt hints it declares.

dlt warns "when merging arrow schema with dlt schema, several column hints were different" when
a yielded table's schema (types, nullability, timezone, precision) disagrees with the resource's
hints; the destination is then left to coerce. Every path is covered: full sync (list pages,
inline associations, archived records), incremental (search, v4 associations) and a by-id read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

HINT_CONFLICT = "column hints were different"
HINT_OVERRIDE = "will overwrite arrow hint"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def dlt_log() -> Iterator[list[str]]:
    """Every dlt log message at INFO and above while the test runs (dlt's logger does not
    propagate, so pytest's caplog never sees it)."""
    logger = logging.getLogger("dlt")
    handler = _Collect()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def conflicts(messages: list[str]) -> list[str]:
    return [m for m in messages if HINT_CONFLICT in m or HINT_OVERRIDE in m]


def test_no_sync_path_yields_arrow_columns_that_disagree_with_the_hints(platform, sandbox, dlt_log):
    sandbox.admin("POST", "archive", json={"object_type": "contacts", "count": 5})
    platform.sync(full_refresh=True)  # live and archived list pages
    sandbox.mutate("contacts", 20)
    sandbox.mutate("deals", 20)
    sandbox.admin("POST", "archive", json={"object_type": "deals", "count": 3})
    platform.sync()  # search, v4 associations, archived since the bookmark
    platform.sync(entities=["contacts"], ids=["1", "2", "999999"])

    assert conflicts(dlt_log) == []


def test_the_collector_sees_dlt_warnings(dlt_log):
    from dlt.common import logger

    logger.warning(f"probe: {HINT_CONFLICT}")
    assert conflicts(dlt_log) == [f"probe: {HINT_CONFLICT}"]
