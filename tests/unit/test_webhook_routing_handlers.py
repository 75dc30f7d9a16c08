"""Handlers: the registry (decorator, entry points), the processor's inbox states, the built-in
`apply` on a real warehouse table, `extract` failing clearly for providers without a source,
and the custom handler example of docs/webhook_routing.md run as documented."""

from __future__ import annotations

import re
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import clock
from core.errors import ValidationError
from destinations.warehouse import Warehouse
from events.handlers import (
    ENTRY_POINT_GROUP,
    HandlerRegistry,
    PlatformServices,
    default_registry,
    webhook_handler,
)
from events.routing import EventProcessor, load_routes
from pipelines.registry import IntegrationRegistry
from tests.unit.test_webhook_routing_support import (
    hubspot_event,
    inbound,
    sqlite_inbox,
    store,
    write_routes,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhook_routing.md"


@pytest.fixture
def frozen_clock():
    clock.freeze(T0.timestamp())
    yield clock
    clock.reset()


def processor_for(settings, routes_text: str, tmp_path: Path, handlers=None, schedule=(30, 120)):
    routes = load_routes(write_routes(tmp_path / "routes.yaml", routes_text), handlers=handlers)
    inbox = sqlite_inbox(settings.data_dir)
    return EventProcessor(
        inbox, routes, PlatformServices(settings), retry_schedule=schedule, handlers=handlers
    )


def register(settings, integration_id: str, type: str = "hubspot") -> None:
    IntegrationRegistry.from_settings(settings).create(
        organization_id="org",
        user_id="user",
        type=type,
        name=f"{type} test",
        config={"api_base": "http://127.0.0.1:9"},
        integration_id=integration_id,
        actor="test",
    )


# -- registry ---------------------------------------------------------------------------------


def test_decorator_registers_by_name_and_names_are_unique():
    registry = HandlerRegistry()

    @webhook_handler("count_events", registry=registry)
    def count_events(events, context):
        return {"events": len(events)}

    assert registry.get("count_events") is count_events
    with pytest.raises(ValidationError, match="already registered"):
        registry.register("count_events", lambda events, context: None)
    with pytest.raises(ValidationError, match="no webhook handler named 'nope'"):
        registry.get("nope")


def test_builtin_actions_are_registered():
    assert {"extract", "apply"} <= set(default_registry.names())


def test_entry_point_handlers_are_loaded(tmp_path, monkeypatch):
    dist = tmp_path / "acme_handlers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-handlers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nacme_echo = acme_handlers_mod:echo\n"
    )
    (tmp_path / "acme_handlers_mod.py").write_text(
        "def echo(events, context):\n    return {'echoed': len(events)}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = HandlerRegistry()

    registry.load_entry_points()

    assert registry.get("acme_echo")([1, 2], None) == {"echoed": 2}
    sys.modules.pop("acme_handlers_mod", None)


def test_a_broken_entry_point_names_itself(tmp_path, monkeypatch):
    dist = tmp_path / "broken_handlers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-handlers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nbroken = no_such_module_here:fn\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ValidationError, match="broken = no_such_module_here:fn"):
        HandlerRegistry().load_entry_points()


# -- processor: inbox states ------------------------------------------------------------------

ROUTES = """
routes:
  - {provider: hubspot, event: "contact.*", handler: flaky, entity: contacts}
  - {provider: "*", event: ping, action: ignore}
"""


def test_success_marks_processed_and_failure_schedules_retries_then_dead_letters(
    settings, tmp_path, frozen_clock
):
    registry = HandlerRegistry()
    seen: list[list[str]] = []
    failing = {"on": False}

    @webhook_handler("flaky", registry=registry)
    def flaky(events, context):
        seen.append([e.object_id for e in events])
        if failing["on"]:
            raise RuntimeError("portal unreachable")
        return {"ok": len(events)}

    processor = processor_for(settings, ROUTES, tmp_path, handlers=registry)
    inbox = processor.inbox
    ok = store(inbox, hubspot_event("acme", "contact.creation", 1))
    [outcome] = processor.process(ok)
    assert (outcome.status, outcome.metadata) == ("processed", {"ok": 1})
    assert inbox.get([ok[0].id])[0].status == "processed"

    failing["on"] = True
    bad = store(inbox, hubspot_event("acme", "contact.propertyChange", 2))
    [outcome] = processor.process(bad)
    [event] = inbox.get([bad[0].id])
    assert outcome.status == "failed" and "RuntimeError: portal unreachable" in outcome.error
    assert (event.status, event.attempts) == ("failed", 1)
    assert event.next_attempt_at == T0 + timedelta(seconds=30)
    assert "acme/route-1/contacts (flaky)" in event.last_error

    processor.process(inbox.get([event.id]))
    [event] = inbox.get([event.id])
    assert (event.status, event.attempts) == ("failed", 2)
    assert event.next_attempt_at == T0 + timedelta(seconds=120)

    [outcome] = processor.process(inbox.get([event.id]))
    assert outcome.dead_letter_ids == [event.id]
    [letter] = inbox.dead_letters()
    assert (letter.event_id, letter.attempts) == (event.id, 3)
    assert "portal unreachable" in letter.reason
    assert seen == [["1"], ["2"], ["2"], ["2"]]


def test_unrouted_events_are_dead_lettered_at_once_and_ignored_ones_processed(
    settings, tmp_path, frozen_clock
):
    registry = HandlerRegistry()
    registry.register("flaky", lambda events, context: None)
    processor = processor_for(settings, ROUTES, tmp_path, handlers=registry)
    inbox = processor.inbox
    events = store(inbox, inbound("github", "gh", "star"), inbound("github", "gh", "ping"))

    assert processor.process(events) == []

    star, ping = inbox.get([e.id for e in events])
    assert (star.status, ping.status) == ("dead", "processed")
    [letter] = inbox.dead_letters()
    assert "no route matches github event 'star'" in letter.reason
    assert letter.attempts == 1


def test_extract_for_a_provider_without_a_source_fails_clearly_into_retry(
    settings, tmp_path, frozen_clock
):
    register(settings, "gh-repo", type="github")
    processor = processor_for(
        settings,
        """
        routes:
          - {provider: github, event: push, action: extract, entity: commits}
        """,
        tmp_path,
    )
    events = store(processor.inbox, inbound("github", "gh-repo", "push"))

    [outcome] = processor.process(events)

    [event] = processor.inbox.get([events[0].id])
    assert (event.status, event.attempts) == ("failed", 1)
    assert "sync for github integrations is not available yet" in event.last_error


def test_extract_for_an_unknown_integration_fails_into_retry(settings, tmp_path, frozen_clock):
    processor = processor_for(
        settings,
        """
        routes:
          - {provider: hubspot, event: "contact.*", action: extract, entity: contacts}
        """,
        tmp_path,
    )
    events = store(processor.inbox, hubspot_event("ghost", "contact.creation", 1))

    processor.process(events)

    [event] = processor.inbox.get([events[0].id])
    assert event.status == "failed"
    assert "integration ghost does not exist" in event.last_error


# -- apply ------------------------------------------------------------------------------------

APPLY_ROUTES = """
routes:
  - provider: hubspot
    event: [contact.propertyChange, contact.deletion, contact.privacyDeletion]
    action: apply
    entity: contacts
"""


def raw_contacts(settings, integration_id: str, rows: list[tuple]) -> Warehouse:
    warehouse = Warehouse.from_settings(settings)
    schema = f"raw_hubspot_{integration_id}"
    statements = [
        (f"CREATE SCHEMA {schema}", None),
        (
            f"CREATE TABLE {schema}.contacts (id TEXT, updated_at TIMESTAMPTZ, archived BOOLEAN, "
            "archived_at TIMESTAMPTZ, properties__email TEXT, properties__firstname TEXT, "
            "properties__lastmodifieddate TEXT)",
            None,
        ),
        *[
            (f"INSERT INTO {schema}.contacts VALUES (?, ?, FALSE, NULL, ?, ?, 'before')", list(r))
            for r in rows
        ],
    ]
    with warehouse.writer_lock():
        warehouse.execute(statements)
    return warehouse


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_apply_writes_newer_changes_and_skips_older_ones(settings, tmp_path, frozen_clock):
    register(settings, "acme")
    warehouse = raw_contacts(
        settings,
        "acme",
        [
            ("1", T0, "old@example.com", "Ada"),
            ("2", T0, "two@example.com", "Bob"),
            ("3", T0, "three@example.com", "Cy"),
            ("4", T0, "four@example.com", "Di"),
        ],
    )
    processor = processor_for(settings, APPLY_ROUTES, tmp_path)
    later, earlier = T0 + timedelta(minutes=5), T0 - timedelta(minutes=5)
    events = store(
        processor.inbox,
        hubspot_event(
            "acme",
            "contact.propertyChange",
            1,
            occurred_at_ms=ms(later),
            propertyName="email",
            propertyValue="new@example.com",
        ),
        hubspot_event(
            "acme",
            "contact.propertyChange",
            2,
            occurred_at_ms=ms(earlier),
            propertyName="firstname",
            propertyValue="Stale",
        ),
        hubspot_event("acme", "contact.deletion", 3, occurred_at_ms=ms(later)),
        hubspot_event("acme", "contact.privacyDeletion", 4, occurred_at_ms=ms(earlier)),
    )

    [outcome] = processor.process(events)

    assert outcome.status == "processed", outcome.error
    assert outcome.metadata["applied"] == 3
    assert outcome.metadata["stale_skipped"] == 1
    assert outcome.metadata["fetched_by_id"] == 0
    rows = {
        r[0]: r[1:]
        for r in warehouse.query(
            "SELECT id, updated_at, archived, archived_at, properties__email, "
            "properties__firstname FROM raw_hubspot_acme.contacts"
        )
    }
    assert rows["1"] == (later, False, None, "new@example.com", "Ada")
    assert rows["2"] == (T0, False, None, "two@example.com", "Bob")
    assert rows["3"] == (later, True, later, "three@example.com", "Cy")
    assert rows["4"] == (T0, True, earlier, None, None)
    assert {e.status for e in processor.inbox.get([e.id for e in events])} == {"processed"}
    lastmod = dict(
        warehouse.query("SELECT id, properties__lastmodifieddate FROM raw_hubspot_acme.contacts")
    )
    assert lastmod == {"1": "2026-05-01T12:05:00.000Z", "2": "before", "3": "before", "4": None}


def test_apply_keeps_the_newest_of_out_of_order_changes_in_one_batch(
    settings, tmp_path, frozen_clock
):
    register(settings, "acme")
    warehouse = raw_contacts(settings, "acme", [("1", T0, "a@example.com", "Ada")])
    processor = processor_for(settings, APPLY_ROUTES, tmp_path)
    newest, older = T0 + timedelta(minutes=9), T0 + timedelta(minutes=2)
    events = store(
        processor.inbox,
        hubspot_event(
            "acme",
            "contact.propertyChange",
            1,
            occurred_at_ms=ms(newest),
            propertyName="email",
            propertyValue="newest@example.com",
        ),
        hubspot_event(
            "acme",
            "contact.propertyChange",
            1,
            occurred_at_ms=ms(older),
            propertyName="email",
            propertyValue="older@example.com",
        ),
    )

    processor.process(events)

    assert warehouse.query("SELECT properties__email FROM raw_hubspot_acme.contacts") == [
        ("newest@example.com",)
    ]


# -- the documented custom handler -------------------------------------------------------------


def documented_handler_module() -> str:
    text = DOCS.read_text()
    match = re.search(r"```python\n(# my_company/webhook_handlers\.py\n.*?)```", text, re.S)
    assert match, "docs/webhook_routing.md lost its custom handler example"
    return match.group(1)


def test_the_documented_custom_handler_works_as_documented(settings, tmp_path, monkeypatch):
    package = tmp_path / "pkg" / "my_company"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "webhook_handlers.py").write_text(documented_handler_module())
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    routes = textwrap.dedent(
        """
        handler_modules: [my_company.webhook_handlers]
        routes:
          - {provider: hubspot, event: deal.propertyChange, handler: log_deal_stage_changes}
        """
    )
    try:
        processor = processor_for(settings, routes, tmp_path)
        events = store(
            processor.inbox,
            hubspot_event(
                "acme",
                "deal.propertyChange",
                77,
                occurred_at_ms=1_700_000_000_000,
                propertyName="dealstage",
                propertyValue="closedwon",
            ),
            hubspot_event(
                "acme", "deal.propertyChange", 78, propertyName="amount", propertyValue="10"
            ),
        )

        [outcome] = processor.process(events)

        assert outcome.status == "processed", outcome.error
        assert outcome.metadata == {"stage_changes": 1}
        assert Warehouse.from_settings(settings).query(
            "SELECT * FROM webhooks.deal_stage_changes"
        ) == [("acme", "77", "closedwon", 1_700_000_000_000)]
    finally:
        default_registry.unregister("log_deal_stage_changes")
        sys.modules.pop("my_company.webhook_handlers", None)
        sys.modules.pop("my_company", None)
