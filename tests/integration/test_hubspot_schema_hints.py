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

from tests.integration.hubspot_support import PRIVATE_APP_TOKEN

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


def unlink_all(sandbox, from_type: str, from_id: str, to_type: str) -> None:
    """Remove every link of one record (its association rows then die through a tombstone)."""
    path = f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}"
    auth = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}
    for link in sandbox.http.get(path, headers=auth).raise_for_status().json()["results"]:
        sandbox.http.delete(f"{path}/{link['toObjectId']}", headers=auth).raise_for_status()


def conflicts(messages: list[str]) -> list[str]:
    return [m for m in messages if HINT_CONFLICT in m or HINT_OVERRIDE in m]


def test_no_sync_path_yields_arrow_columns_that_disagree_with_the_hints(platform, sandbox, dlt_log):
    sandbox.admin("POST", "archive", json={"object_type": "contacts", "count": 5})
    unlink_all(sandbox, "contacts", "7", "companies")  # a tombstone row on the full path
    platform.sync(full_refresh=True)  # live and archived list pages
    unlink_all(sandbox, "contacts", "8", "companies")
    sandbox.mutate("contacts", ids=["8"])  # ... and on the incremental path
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
