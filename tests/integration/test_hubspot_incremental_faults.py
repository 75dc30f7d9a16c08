"""Incremental HubSpot sync against the sandbox's search faults: records edited while a search
is paged, changes the index shows late (variable lag), the cost of the re-read window, and
association rows of records that lost their links."""

from __future__ import annotations

import math
import time

from sources.hubspot.client import SEARCH_PAGE_SIZE
from tests.integration.hubspot_support import PRIVATE_APP_TOKEN

AUTH = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}


def set_lookback(platform, lookback_ms: int) -> None:
    url = platform.sandbox.base_url
    platform.registry.update_config(
        platform.integration_id,
        {"api_base": url, "auth_base": url, "search_lookback_ms": lookback_ms},
        actor="test",
    )


def assert_equal_to_truth(platform, entity: str) -> None:
    diff = platform.diff(entity)
    assert diff.equal, f"{entity}: {diff.summary()}"


def search_requests(result) -> int:
    return result.requests_by_kind.get("search", 0)


# -- item 1: edits while a search is paged --------------------------------------------------------


def test_records_edited_while_a_search_is_paged_do_not_push_others_out(platform, sandbox):
    set_lookback(platform, 0)  # no re-read window to hide a skipped row
    platform.sync(full_refresh=True)
    sandbox.mutate("contacts", 450)
    # When the sync asks for its 2nd search page, 3 records the 1st page returned are saved
    # again: they move to the end of last-modified order and every later row moves up.
    sandbox.admin(
        "POST",
        "search_faults",
        json={"edit_at_page": 2, "edit_count": 3, "object_type": "contacts"},
    )

    platform.sync(entities=["contacts"])

    assert len(sandbox.admin("GET", "search_faults")["edited"]) == 3, "the fault never fired"
    assert_equal_to_truth(platform, "contacts")
    platform.sync(entities=["contacts"])
    assert_equal_to_truth(platform, "contacts")


# -- item 17: variable index lag needs the lookback ------------------------------------------------


def test_changes_the_index_shows_late_are_caught_by_the_lookback(platform, sandbox):
    max_lag_ms = 4_000
    set_lookback(platform, 2 * max_lag_ms)
    platform.sync(full_refresh=True)
    sandbox.admin("POST", "search_faults", json={"index_lag_max_ms": max_lag_ms, "seed": 11})
    changed: set[str] = set()
    for _ in range(4):  # four milliseconds: a bookmark at the newest change seen skips older ones
        changed |= set(sandbox.mutate("contacts", 50)["ids"])
        time.sleep(0.01)

    first = platform.sync(entities=["contacts"])
    # the fault bites: each change has its own delay, so some are not searchable yet
    assert first.reports["contacts"].rows < len(changed)
    time.sleep(max_lag_ms / 1000 + 0.2)
    second = platform.sync(entities=["contacts"])

    assert first.reports["contacts"].rows + second.reports["contacts"].rows == len(changed)
    assert_equal_to_truth(platform, "contacts")


# -- item 2: the re-read window is anchored at the previous sync's start ---------------------------


def test_an_idle_sync_stops_re_reading_changes_older_than_the_lookback(platform, sandbox):
    set_lookback(platform, 1_000)
    platform.sync(full_refresh=True)
    sandbox.mutate("contacts", 450)
    platform.sync(entities=["contacts"])
    time.sleep(1.1)
    platform.sync(entities=["contacts"])  # the last sync whose window holds the changes

    idle = platform.sync(entities=["contacts"])

    assert search_requests(idle) == 1, idle.requests_by_kind
    assert idle.requests <= 3
    assert idle.load_ids == []
    assert_equal_to_truth(platform, "contacts")


def test_changes_after_a_burst_cost_their_own_pages_only(platform, sandbox):
    set_lookback(platform, 1_000)
    platform.sync(full_refresh=True)
    sandbox.mutate("contacts", 1_000)  # the burst
    time.sleep(1.1)
    platform.sync(entities=["contacts"])  # reads the burst, started past its lookback
    later = sandbox.mutate("contacts", 50)["ids"]

    result = platform.sync(entities=["contacts"])

    assert result.reports["contacts"].rows == len(later)
    assert search_requests(result) <= math.ceil(len(later) / SEARCH_PAGE_SIZE)
    non_assoc = sum(v for k, v in result.requests_by_kind.items() if k != "associations")
    assert non_assoc <= math.ceil(len(later) / SEARCH_PAGE_SIZE) + 3
    assert_equal_to_truth(platform, "contacts")


# -- item 3: association rows of records that lost their links -------------------------------------


def unlink_all(sandbox, from_type: str, from_id: str, to_type: str) -> list[str]:
    path = f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}"
    links = sandbox.http.get(path, headers=AUTH).raise_for_status().json()["results"]
    for link in links:
        sandbox.http.delete(f"{path}/{link['toObjectId']}", headers=AUTH).raise_for_status()
    return [str(link["toObjectId"]) for link in links]


def rows_of(platform, table: str, column: str, record_id: str) -> int:
    sql = f"SELECT COUNT(*) FROM {{ds}}.{table} WHERE {column} = '{record_id}'"
    return platform.query(sql)[0][0]


def test_an_incremental_sync_drops_the_links_a_changed_record_lost(platform, sandbox):
    platform.sync(full_refresh=True)
    contact = platform.query("SELECT MIN(contact_id) FROM {ds}.contact_companies")[0][0]
    deal = platform.query("SELECT MIN(deal_id) FROM {ds}.deal_contacts")[0][0]
    assert unlink_all(sandbox, "contacts", contact, "companies")
    assert unlink_all(sandbox, "deals", deal, "contacts")
    sandbox.mutate("contacts", ids=[contact])
    sandbox.mutate("deals", ids=[deal])

    platform.sync()

    assert rows_of(platform, "contact_companies", "contact_id", contact) == 0
    assert rows_of(platform, "deal_contacts", "deal_id", deal) == 0
    assert rows_of(platform, "deal_companies", "deal_id", deal) > 0  # still linked there
    linked = platform.query("SELECT COUNT(DISTINCT contact_id) FROM {ds}.contact_companies")
    assert linked == [(1199,)]


def test_a_full_sync_drops_links_that_are_gone(platform, sandbox):
    platform.sync(full_refresh=True)
    contact = platform.query("SELECT MAX(contact_id) FROM {ds}.contact_companies")[0][0]
    assert unlink_all(sandbox, "contacts", contact, "companies")

    platform.sync(full_refresh=True)

    assert rows_of(platform, "contact_companies", "contact_id", contact) == 0
    linked = platform.query("SELECT COUNT(DISTINCT contact_id) FROM {ds}.contact_companies")
    assert linked == [(1199,)]
