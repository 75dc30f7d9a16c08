"""`platform webhooks deadletters list|replay`: see and resend events that ran out of retries.

Parsing and printing only; the selection rules live in `webhook_receiver.deadletters`, which the
Dagster `replay_dead_letters_job` uses too.
"""

from __future__ import annotations

import json

import click

from core.errors import IntegrationError
from core.settings import get_settings


def _inbox():
    from inbox import Inbox

    return Inbox.from_settings(get_settings())


@click.group("deadletters")
def deadletters() -> None:
    """List and replay webhook events whose processing failed after the last retry."""


@deadletters.command("list")
@click.option("--integration", "integration_id", help="Only this integration's dead letters.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_dead_letters_cmd(integration_id: str | None, limit: int, as_json: bool) -> None:
    """Print dead letters, oldest event first, with the reason they failed."""
    from webhook_receiver.deadletters import describe, list_dead_letters

    try:
        letters = list_dead_letters(_inbox(), integration_id=integration_id, limit=limit)
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for letter in letters:
            click.echo(json.dumps(describe(letter), sort_keys=True))
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        row = describe(letter)
        click.echo(
            f"{row['event_id']:>8}  {row['dead_at'][:19]}  {row['integration_id']}  "
            f"{row['provider']} {row['event_type']}  {row['object_type'] or '-'}:"
            f"{row['object_id'] or '-'}  attempts={row['attempts']}"
        )
        click.echo(f"          {row['reason']}")


@deadletters.command("replay")
@click.option("--id", "ids", multiple=True, type=int, help="Event id to replay (repeatable).")
@click.option("--integration", "integration_id", help="Replay this integration's dead letters.")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def replay_dead_letters_cmd(ids: tuple[int, ...], integration_id: str | None, replay_all: bool):
    """Send dead letters back to pending; the webhook sensor dispatches them on its next tick."""
    from webhook_receiver.deadletters import replay_dead_letters

    try:
        count = replay_dead_letters(
            _inbox(), ids=list(ids) or None, integration_id=integration_id, replay_all=replay_all
        )
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{count} dead letters replayed")
