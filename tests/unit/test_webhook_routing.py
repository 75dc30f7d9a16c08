"""Declarative webhook routes: the shipped file, matching, clear errors, grouping, run keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.settings import Settings
from events.routing import (
    DEFAULT_ROUTES_PATH,
    load_routes,
    load_routes_for,
    plan_dispatch,
    routes_path,
    run_key_for,
)
from tests.unit.test_webhook_routing_support import (
    hubspot_event,
    inbound,
    sqlite_inbox,
    store,
    write_routes,
)


@pytest.fixture(scope="module")
def default_routes():
    return load_routes(DEFAULT_ROUTES_PATH)


@pytest.mark.parametrize(
    ("provider", "event_type", "action", "entity"),
    [
        ("hubspot", "contact.creation", "extract", "contacts"),
        ("hubspot", "contact.propertyChange", "extract", "contacts"),
        ("hubspot", "contact.deletion", "apply", "contacts"),
        ("hubspot", "contact.privacyDeletion", "apply", "contacts"),
        ("hubspot", "company.propertyChange", "extract", "companies"),
        ("hubspot", "company.deletion", "apply", "companies"),
        ("hubspot", "deal.creation", "extract", "deals"),
        ("hubspot", "deal.deletion", "apply", "deals"),
        ("hubspot", "object.propertyChange", "extract", None),
        ("github", "push", "extract", "commits"),
        ("github", "issues", "extract", "issues"),
        ("github", "pull_request", "extract", "pull_requests"),
        ("wordpress", "order.updated", "extract", "orders"),
        ("wordpress", "product.created", "extract", "products"),
        ("salesforce", "Account.UPDATE", "extract", "accounts"),
        ("wordpress", "post.updated", "extract", None),
        ("github", "ping", "ignore", None),
        ("wordpress", "ping", "ignore", None),
        ("hubspot", "ping", "ignore", None),
    ],
)
def test_default_routes_cover_every_provider(default_routes, provider, event_type, action, entity):
    match = default_routes.match(provider, event_type)

    assert match is not None
    assert (match.route.action, match.route.entity) == (action, entity)


def test_an_event_no_route_matches_has_no_route(default_routes):
    assert default_routes.match("hubspot", "ticket.creation") is None
    assert default_routes.match("github", "star") is None


def test_first_matching_route_wins_and_star_matches_every_provider(tmp_path):
    path = write_routes(
        tmp_path / "routes.yaml",
        """
        routes:
          - {name: special, provider: hubspot, event: contact.propertyChange, action: ignore}
          - {provider: hubspot, event: "contact.*", action: extract, entity: contacts}
          - {provider: "*", event: [ping, "*.ping"], action: ignore}
        """,
    )
    table = load_routes(path)

    assert table.match("hubspot", "contact.propertyChange").label == "special"
    assert table.match("hubspot", "contact.creation").label == "route-2"
    assert table.match("github", "ping").route.action == "ignore"
    assert table.match("salesforce", "webhook.ping").route.action == "ignore"
    assert table.match("hubspot", "Contact.creation") is None  # patterns are case-sensitive


def test_a_custom_handler_route_implies_the_handler_action(tmp_path):
    path = write_routes(
        tmp_path / "routes.yaml",
        """
        routes:
          - {provider: hubspot, event: deal.propertyChange, handler: extract}
        """,
    )
    route = load_routes(path).routes[0]

    assert (route.action, route.handler_name) == ("handler", "extract")


@pytest.mark.parametrize(
    ("body", "line", "field", "words"),
    [
        (
            """
            routes:
              - {provider: hubspot, event: "contact.*", action: extract}
              - provider: hubspot
                event: "deal.*"
                action: explode
            """,
            5,
            "routes[1].action",
            "extract",
        ),
        (
            """
            routes:
              - provider: github
                event: push
                action: apply
            """,
            2,
            "routes[0]",
            "only available for hubspot",
        ),
        (
            """
            routes:
              - provider: hubspot
                event: contact.creation
                action: apply
            """,
            2,
            "routes[0]",
            "propertyChange",
        ),
        (
            """
            version: 1
            routes:
              - provider: hubspot
                event: "ticket.*"
                action: extract
                entity: tickets
            """,
            3,
            "routes[0]",
            "unknown HubSpot entity 'tickets'",
        ),
        (
            """
            routes:
              - provider: myspace
                event: "*"
                action: ignore
            """,
            2,
            "routes[0].provider",
            "hubspot",
        ),
        (
            """
            routes:
              - provider: hubspot
                event: "contact.*"
            """,
            2,
            "routes[0]",
            "needs `action`",
        ),
        (
            """
            routes:
              - provider: hubspot
                event: "contact.*"
                action: extract
                options: {by_id: true, max_ids: 0}
            """,
            2,
            "routes[0]",
            "max_ids",
        ),
        (
            """
            routes:
              - provider: hubspot
                event: "contact.*"
                action: extract
                entity: contacts
                colour: blue
            """,
            6,
            "routes[0].colour",
            "Extra inputs",
        ),
        (
            """
            routes:
              - {provider: hubspot, event: "contact.*", action: extract}
              - provider: hubspot
                event: "deal.*"
                handler: no_such_handler
            """,
            5,
            "routes[1].handler",
            "no webhook handler named 'no_such_handler'",
        ),
        (
            """
            handler_modules:
              - json
              - no_such_package.handlers
            routes: []
            """,
            3,
            "handler_modules[1]",
            "cannot import 'no_such_package.handlers'",
        ),
    ],
)
def test_route_errors_name_the_file_the_line_and_the_field(tmp_path, body, line, field, words):
    path = write_routes(tmp_path / "routes.yaml", body)

    with pytest.raises(ValidationError) as info:
        load_routes(path)

    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {field}")
    assert words in message


def test_a_file_that_is_not_yaml_is_named_in_the_error(tmp_path):
    path = write_routes(tmp_path / "routes.yaml", "routes: [unclosed\n")

    with pytest.raises(ValidationError, match=f"{path}: not valid YAML"):
        load_routes(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot read the routes file"):
        load_routes(tmp_path / "nope.yaml")


def test_settings_choose_the_routes_file(tmp_path, data_dir):
    path = write_routes(
        tmp_path / "mine.yaml",
        """
        routes:
          - {provider: "*", event: "*", action: ignore}
        """,
    )
    default = Settings(DATA_DIR=data_dir, _env_file=None)
    custom = Settings(DATA_DIR=data_dir, WEBHOOK_ROUTES_PATH=path, _env_file=None)

    assert routes_path(default) == DEFAULT_ROUTES_PATH
    assert routes_path(custom) == path
    assert len(load_routes_for(custom).routes) == 1


def test_plan_groups_events_by_integration_route_and_entity(data_dir, default_routes):
    inbox = sqlite_inbox(data_dir)
    events = store(
        inbox,
        hubspot_event("acme", "contact.propertyChange", 1),
        hubspot_event("acme", "contact.creation", 2),
        hubspot_event("acme", "company.propertyChange", 3),
        hubspot_event("acme", "contact.deletion", 4),
        hubspot_event("other", "contact.propertyChange", 5),
        inbound("github", "gh", "ping"),
        inbound("github", "gh", "star"),
        hubspot_event("acme", "object.propertyChange", 6),
    )
    # a generic object.* event carries its entity as the object type
    events[-1] = dataclasses.replace(events[-1], object_type="deals")

    plan = plan_dispatch(events, default_routes)

    batches = {b.label: [e.object_id for e in b.events] for b in plan.batches}
    assert batches == {
        "acme/hubspot-contacts/contacts": ["1", "2"],
        "acme/hubspot-companies/companies": ["3"],
        "acme/hubspot-contact-deleted/contacts": ["4"],
        "other/hubspot-contacts/contacts": ["5"],
        "acme/hubspot-objects/deals": ["6"],
    }
    assert [e.event_type for e in plan.ignored] == ["ping"]
    assert [e.event_type for e in plan.unrouted] == ["star"]


def test_plan_splits_a_large_group_into_batches(data_dir, default_routes):
    inbox = sqlite_inbox(data_dir)
    events = store(inbox, *(hubspot_event("acme", "contact.creation", i) for i in range(1, 8)))

    plan = plan_dispatch(events, default_routes, max_batch=3)

    assert [len(b.events) for b in plan.batches] == [3, 3, 1]
    assert sum((b.event_ids for b in plan.batches), []) == sorted(e.id for e in events)


def test_run_key_is_stable_and_changes_with_attempts_and_dispatch_sequence(data_dir):
    inbox = sqlite_inbox(data_dir)
    events = store(inbox, *(hubspot_event("acme", "contact.creation", i) for i in range(1, 4)))

    key = run_key_for(events, 1)

    assert key == run_key_for(list(reversed(events)), 1)
    assert key.startswith("webhooks-")
    assert run_key_for(events[:2], 1) != key
    assert run_key_for(events, 2) != key
    retried = [dataclasses.replace(events[0], attempts=1), *events[1:]]
    assert run_key_for(retried, 1) != key


def test_the_shipped_routes_file_is_the_package_default():
    assert Path(DEFAULT_ROUTES_PATH).name == "routes.yaml"
    assert DEFAULT_ROUTES_PATH.parent.name == "events"
