"""CLI groups for integrations, secrets and the audit log, mounted by the root `platform` CLI.

Thin: parse options, call the registry, print a table (or JSON). Never echo a token or secret;
tokens are read from a hidden prompt or stdin when not given as an option.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from core.errors import IntegrationError
from core.settings import get_settings
from pipelines.models import Integration
from pipelines.registry import IntegrationRegistry


def _registry() -> IntegrationRegistry:
    return IntegrationRegistry.from_settings(get_settings())


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


actor_option = click.option(
    "--actor",
    default=_default_actor,
    show_default="cli:<user>",
    help="Who to record in the audit log.",
)


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from None


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _integration_row(i: Integration) -> list[Any]:
    return [
        i.id,
        i.type,
        i.name,
        i.status,
        i.organization_id,
        i.created_at.isoformat(timespec="seconds"),
    ]


INTEGRATION_HEADERS = ["ID", "TYPE", "NAME", "STATUS", "ORG", "CREATED"]


def _command(group: click.Group, *args: Any, **kwargs: Any) -> Callable:
    """A group command whose IntegrationErrors become clean CLI errors."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)  # carries click's collected options along
        def run(*a: Any, **kw: Any) -> Any:
            with _friendly_errors():
                return fn(*a, **kw)

        return group.command(*args, **kwargs)(run)

    return wrap


def _provider_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The --type value, refused unless a provider of that name is registered."""
    from sources.provider import providers

    if value not in providers:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(providers.names())}")
    return value


@click.group()
def integrations() -> None:
    """Register, authorize and inspect integrations."""


@_command(integrations, "create")
@click.option(
    "--type",
    "type_",
    required=True,
    callback=_provider_name,
    help="A registered provider (see the declarations).",
)
@click.option("--name", required=True)
@click.option("--org", "organization_id", required=True, help="Organization id.")
@click.option("--user", "user_id", required=True, help="User id of the owner.")
@click.option("--id", "integration_id", default=None, help="Integration id (generated if omitted).")
@click.option("--config", "config_json", default=None, help="Config as a JSON object.")
@actor_option
def create(type_, name, organization_id, user_id, integration_id, config_json, actor) -> None:
    """Create an integration (status pending_auth)."""
    try:
        config = json.loads(config_json) if config_json else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}", param_hint="--config") from None
    if not isinstance(config, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--config")
    integration = _registry().create(
        organization_id=organization_id,
        user_id=user_id,
        type=type_,
        name=name,
        config=config,
        integration_id=integration_id,
        actor=actor,
    )
    click.echo(f"created {integration.id} ({integration.type}, {integration.status})")


@_command(integrations, "list")
@click.option("--org", "organization_id", default=None, help="Only this organization.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(organization_id, as_json) -> None:
    """List integrations."""
    found = _registry().list(organization_id)
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in found], indent=2))
    else:
        click.echo(_table(INTEGRATION_HEADERS, [_integration_row(i) for i in found]))


@_command(integrations, "show")
@click.argument("integration_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show(integration_id, as_json) -> None:
    """Show one integration and which credentials it has (never their values)."""
    registry = _registry()
    integration = registry.get(integration_id)
    kinds = registry.vault.kinds(integration_id)
    if as_json:
        click.echo(
            json.dumps(integration.model_dump(mode="json") | {"credentials": kinds}, indent=2)
        )
        return
    for label, value in (
        ("id", integration.id),
        ("type", integration.type),
        ("name", integration.name),
        ("status", integration.status),
        ("organization", integration.organization_id),
        ("user", integration.user_id),
        ("created", integration.created_at.isoformat(timespec="seconds")),
        ("updated", integration.updated_at.isoformat(timespec="seconds")),
        ("config", json.dumps(integration.config, sort_keys=True)),
        ("credentials", ", ".join(kinds) or "(none)"),
    ):
        click.echo(f"{label:<13}{value}")


@_command(integrations, "delete")
@click.argument("integration_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option
def delete(integration_id, yes, actor) -> None:
    """Delete an integration and its stored credentials."""
    if not yes:
        click.confirm(f"Delete {integration_id} and its credentials?", abort=True)
    _registry().delete(integration_id, actor=actor)
    click.echo(f"deleted {integration_id}")


@_command(integrations, "auth-url")
@click.argument("integration_id")
@click.option("--redirect-uri", required=True, help="Where the provider sends the browser back.")
@click.option("--scope", "scopes", multiple=True, help="Scope to request (repeatable).")
@actor_option
def auth_url(integration_id, redirect_uri, scopes, actor) -> None:
    """Print the URL to open in a browser to authorize the integration (valid 10 minutes)."""
    click.echo(
        _registry().authorization_url(
            integration_id, redirect_uri, actor=actor, scopes=list(scopes) or None
        )
    )


@_command(integrations, "callback")
@click.option("--url", required=True, help="The full URL the browser was redirected to.")
@actor_option
def callback(url, actor) -> None:
    """Finish OAuth from the redirected URL (exchanges the code, stores tokens encrypted)."""
    integration = _registry().complete_callback_url(url, actor=actor)
    click.echo(f"authorized {integration.id} ({integration.status})")


@_command(integrations, "set-token")
@click.argument("integration_id")
@click.option(
    "--token",
    default=None,
    help="Private app token; prompted (hidden) or read from stdin if omitted.",
)
@actor_option
def set_token(integration_id, token, actor) -> None:
    """Store a private app token for the integration (encrypted)."""
    if token is None:
        if sys.stdin.isatty():
            token = click.prompt("Token", hide_input=True)
        else:
            token = sys.stdin.readline()
    integration = _registry().set_private_app_token(integration_id, token, actor=actor)
    click.echo(f"token stored for {integration.id} ({integration.status})")


@click.group()
def secrets() -> None:
    """Manage encryption of stored secrets."""


@_command(secrets, "rotate")
@actor_option
def rotate(actor) -> None:
    """Re-encrypt every stored secret with the first key of ENCRYPTION_KEY."""
    count = _registry().rotate_keys(actor=actor)
    click.echo(f"re-encrypted {count} secrets with the primary key")


@click.group()
def audit() -> None:
    """Read the audit log."""


@_command(audit, "list")
@click.option("--integration", "integration_id", default=None, help="Only this integration.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def audit_list(integration_id, limit, as_json) -> None:
    """List audit entries, newest first."""
    entries = _registry().audit.list(integration_id, limit=limit)
    if as_json:
        click.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    rows = [
        [
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.integration_id,
            _clip(json.dumps(e.details, sort_keys=True)),
        ]
        for e in entries
    ]
    click.echo(_table(["AT", "ACTOR", "ACTION", "INTEGRATION", "DETAILS"], rows))
