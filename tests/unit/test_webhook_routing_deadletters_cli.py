"""`platform webhooks deadletters list|replay` on a real SQLite inbox."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.deadletters import deadletters
from tests.unit.test_webhook_routing_support import hubspot_event, sqlite_inbox, store


@pytest.fixture
def inbox(data_dir, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("INBOX_DATABASE_URL", raising=False)
    box = sqlite_inbox(data_dir)
    events = store(
        box,
        hubspot_event("acme", "contact.creation", 1),
        hubspot_event("acme", "contact.creation", 2),
        hubspot_event("other", "deal.creation", 3),
    )
    for event in events:
        box.mark_failed([event.id], f"HubSpot said no to {event.object_id}", [])
    return box


def run(*args: str):
    return CliRunner().invoke(deadletters, list(args), catch_exceptions=False)


def test_list_prints_each_dead_letter_with_its_reason(inbox):
    result = run("list")

    assert result.exit_code == 0
    assert result.output.count("HubSpot said no to") == 3
    assert "acme  hubspot contact.creation  contacts:1  attempts=1" in result.output


def test_list_as_json_filters_by_integration(inbox):
    result = run("list", "--integration", "other", "--json")

    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["integration_id"], r["object_id"], r["event_type"]) for r in rows] == [
        ("other", "3", "deal.creation")
    ]


def test_replay_by_id_and_by_integration(inbox):
    first = inbox.dead_letters()[0].event_id

    assert run("replay", "--id", str(first)).output.strip() == "1 dead letters replayed"
    assert run("replay", "--integration", "other").output.strip() == "1 dead letters replayed"

    assert [d.integration_id for d in inbox.dead_letters()] == ["acme"]
    assert [e.status for e in inbox.fetch_ready()] == ["pending", "pending"]


def test_replay_needs_a_selection_and_all_replays_everything(inbox):
    refused = CliRunner().invoke(deadletters, ["replay"])

    assert refused.exit_code != 0
    assert "choose dead letters to replay" in refused.output
    assert len(inbox.dead_letters()) == 3
    assert run("replay", "--all").output.strip() == "3 dead letters replayed"
    assert inbox.dead_letters() == []


def test_list_says_so_when_there_are_none(data_dir, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("INBOX_DATABASE_URL", raising=False)

    assert run("list").output.strip() == "no dead letters"


def test_the_platform_command_mounts_the_dead_letter_commands(inbox):
    from cli.main import main

    result = CliRunner().invoke(main, ["webhooks", "deadletters", "list", "--json"])

    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3
