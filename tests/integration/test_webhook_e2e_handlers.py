"""The built-in handlers against the HubSpot sandbox over HTTP: by-id fetch of live, archived
and vanished records; `apply` falling back to the by-id fetch where it cannot write safely; and
`extract` choosing an incremental sync when events name too many objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.handlers import PlatformServices
from events.routing import EventProcessor, load_routes
from tests.integration.hubspot_support import Platform
from tests.unit.test_webhook_routing_support import hubspot_event, sqlite_inbox, store, write_routes


def processor(platform: Platform, tmp_path: Path, routes: str) -> EventProcessor:
    table = load_routes(write_routes(tmp_path / "routes.yaml", routes))
    services = PlatformServices(platform.settings, runner_factory=lambda _: platform.runner())
    return EventProcessor(
        sqlite_inbox(platform.settings.data_dir), table, services, retry_schedule=[30]
    )


@pytest.fixture
def synced(platform: Platform) -> Platform:
    platform.sync()
    platform.sandbox.admin("DELETE", "requests")
    return platform


def test_by_id_fetch_reads_live_and_archived_records_and_skips_vanished_ids(synced, tmp_path):
    sandbox = synced.sandbox
    live = sandbox.mutate("contacts", 2, properties={"city": "Fetched"})["ids"]
    gone = sandbox.admin("POST", "archive", json={"object_type": "contacts", "count": 1})["ids"]
    events = processor(
        synced,
        tmp_path,
        "routes: [{provider: hubspot, event: 'contact.*', action: extract, entity: contacts}]",
    )
    inbox = events.inbox
    stored = store(
        inbox,
        *(hubspot_event("itest", "contact.propertyChange", i) for i in live),
        hubspot_event("itest", "contact.deletion", gone[0]),
        hubspot_event("itest", "contact.propertyChange", 987_654_321),
    )

    [outcome] = events.process(stored)

    assert outcome.status == "processed", outcome.error
    assert outcome.metadata["mode"] == "by_id"
    assert (outcome.metadata["live_records"], outcome.metadata["archived_records"]) == (2, 1)
    assert outcome.metadata["missing_ids"] == 1
    assert synced.diff("contacts").equal
    paths = [r["path"] for r in sandbox.requests()]
    assert paths.count("/crm/v3/objects/contacts/batch/read") == 2  # live, then archived
    assert not [p for p in paths if p.endswith("/search")]


def test_apply_falls_back_to_the_by_id_fetch_where_it_cannot_write_safely(synced, tmp_path):
    sandbox = synced.sandbox
    [new_id] = sandbox.admin("POST", "create", json={"object_type": "contacts"})["ids"]
    mutated = sandbox.mutate("contacts", 1, properties={"city": "Applied"})
    [known], changed_at = mutated["ids"], mutated["lastmodified_ms"]
    events = processor(
        synced,
        tmp_path,
        """
        routes:
          - {provider: hubspot, event: contact.propertyChange, action: apply, entity: contacts}
        """,
    )
    stored = store(
        events.inbox,
        # a row the warehouse does not hold yet
        hubspot_event(
            "itest", "contact.propertyChange", new_id, propertyName="email", propertyValue="x@y.z"
        ),
        # a row it holds, a column it has: written directly
        hubspot_event(
            "itest",
            "contact.propertyChange",
            known,
            occurred_at_ms=changed_at,
            propertyName="city",
            propertyValue="Applied",
        ),
    )

    [outcome] = events.process(stored)

    assert outcome.status == "processed", outcome.error
    assert (outcome.metadata["applied"], outcome.metadata["fetched_by_id"]) == (1, 1)
    assert synced.query(f"SELECT properties__city FROM {{ds}}.contacts WHERE id = '{known}'") == [
        ("Applied",)
    ]
    assert synced.query(f"SELECT COUNT(*) FROM {{ds}}.contacts WHERE id = '{new_id}'") == [(1,)]
    assert synced.diff("contacts").equal


def test_extract_runs_an_incremental_sync_when_events_name_too_many_objects(synced, tmp_path):
    sandbox = synced.sandbox
    ids = sandbox.mutate("deals", 3, properties={"dealname": "Bulk"})["ids"]
    events = processor(
        synced,
        tmp_path,
        """
        routes:
          - provider: hubspot
            event: "deal.*"
            action: extract
            entity: deals
            options: {max_ids: 2}
        """,
    )
    stored = store(events.inbox, *(hubspot_event("itest", "deal.propertyChange", i) for i in ids))

    [outcome] = events.process(stored)

    assert outcome.status == "processed", outcome.error
    assert outcome.metadata["mode"] == "incremental"
    assert synced.diff("deals").equal
    paths = [r["path"] for r in sandbox.requests()]
    assert "/crm/v3/objects/deals/search" in paths


def test_a_portal_that_keeps_failing_sends_the_batch_to_retry_and_logs_the_failed_fetch(
    synced, tmp_path
):
    sandbox = synced.sandbox
    ids = sandbox.mutate("companies", 2, properties={"city": "Flaky"})["ids"]
    events = processor(
        synced,
        tmp_path,
        "routes: [{provider: hubspot, event: 'company.*', action: extract, entity: companies}]",
    )
    stored = store(
        events.inbox, *(hubspot_event("itest", "company.propertyChange", i) for i in ids)
    )
    sandbox.faults(rate_5xx=1.0, path_regex="batch/read")

    [failed] = events.process(stored)

    assert failed.status == "failed"
    assert "ProviderError" in failed.error and "HubSpot 5" in failed.error
    assert {e.status for e in events.inbox.get([e.id for e in stored])} == {"failed"}
    [fetch] = [r for r in synced.runner().run_log.list("itest") if r.mode == "by_id"]
    assert fetch.status == "failed" and fetch.error

    sandbox.clear_faults()
    [retried] = events.process(events.inbox.get([e.id for e in stored]))

    assert retried.status == "processed", retried.error
    assert synced.diff("companies").equal
