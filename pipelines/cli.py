"""The `platform` command: integrations, secrets, audit, syncs, the sandbox and the demo.

Each sub-command calls the same public Python APIs the Dagster assets use; nothing here holds
logic of its own beyond parsing options and printing. Secrets are never echoed.
"""

from __future__ import annotations

import json
import sys
import time

import click

from core.errors import IntegrationError
from core.settings import get_settings


@click.group()
def main() -> None:
    """Integration platform: HubSpot, Salesforce, WordPress and GitHub into your warehouse."""


def _mount_optional_groups() -> None:
    from pipelines.cli_integrations import audit, integrations, secrets

    main.add_command(integrations)
    main.add_command(secrets)
    main.add_command(audit)
    from webhook_receiver.cli import webhooks

    main.add_command(webhooks)
    from mappings.cli import mappings

    main.add_command(mappings)


class ProgressPrinter:
    """Prints rows extracted per entity to stderr, at most a few times a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, entity: str, rows: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            click.echo(f"  {entity}: {rows:,} rows extracted", err=True)


@main.group()
def sync() -> None:
    """Run sync jobs and read the sync-run log."""


@sync.command("run")
@click.argument("integration_id")
@click.option("--entity", "entities", multiple=True, help="Entity to sync (repeatable).")
@click.option("--full", is_flag=True, help="Full refresh instead of incremental.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    help="ENTITY:PROPERTY:OPERATOR:VALUE, e.g. contacts:lifecyclestage:EQ:customer",
)
def sync_run(integration_id: str, entities: tuple[str, ...], full: bool, filters: tuple[str, ...]):
    """Sync INTEGRATION_ID into the warehouse and print what was loaded."""
    from pipelines.runner import SyncRequest, SyncRunner

    parsed: dict[str, list[dict[str, str]]] = {}
    for item in filters:
        try:
            entity, prop, op, value = item.split(":", 3)
        except ValueError as exc:
            raise click.BadParameter(f"{item!r}: use ENTITY:PROPERTY:OPERATOR:VALUE") from exc
        parsed.setdefault(entity, []).append(
            {"propertyName": prop, "operator": op.upper(), "value": value}
        )
    runner = SyncRunner(get_settings())
    try:
        result = runner.run(
            SyncRequest(integration_id, list(entities) or None, full, parsed or None, "cli"),
            progress=ProgressPrinter(),
        )
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"sync {result.run_id} {result.status} ({result.mode}) in {result.duration_s:.1f}s, "
        f"{result.requests} requests, {result.rate_limit_waits} rate-limit waits"
    )
    for table, rows in sorted(result.rows_loaded.items()):
        click.echo(f"  {result.dataset}.{table}: {rows:,} rows loaded")


@sync.command("runs")
@click.option("--integration", "integration_id", default=None)
@click.option("--limit", default=20)
@click.option("--json", "as_json", is_flag=True)
def sync_runs(integration_id: str | None, limit: int, as_json: bool) -> None:
    """List recent sync runs (status, counts, duration, error)."""
    from pipelines.registry import IntegrationRegistry
    from pipelines.run_log import SyncRunLog

    registry = IntegrationRegistry.from_settings(get_settings())
    runs = SyncRunLog(registry.db).list(integration_id, limit)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    for r in runs:
        rows = sum((r.rows_loaded or {}).values())
        click.echo(
            f"{r.id}  {r.integration_id}  {r.mode:<11} {r.status:<8} "
            f"{rows:>9,} rows  {r.duration_s or 0:>7.1f}s  {r.error or ''}"
        )


@main.command()
@click.option("--contacts", default=5000, help="Contacts in the demo portal.")
@click.option("--mutate", default=50, help="Contacts changed before the incremental sync.")
def demo(contacts: int, mutate: int) -> None:
    """Start the HubSpot sandbox, connect through OAuth, full sync, mutate, incremental sync."""
    from pipelines.demo import run_demo

    try:
        run_demo(contacts=contacts, mutate=mutate, echo=click.echo)
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("sandbox")
@click.option("--port", default=8765)
@click.option("--seed", default=42)
@click.option("--contacts", default=5000)
@click.option("--companies", default=1000)
@click.option("--deals", default=1500)
@click.option("--webhook-url", help="Send signed webhook batches of every change to this URL.")
@click.option("--webhook-secret", help="Signing secret (default: the app's client secret).")
@click.option("--webhook-signature-version", type=click.Choice(["v1", "v2", "v3"]))
@click.option("--webhook-subscription", multiple=True, help="eventType[:property], repeatable.")
def sandbox_cmd(
    port: int,
    seed: int,
    contacts: int,
    companies: int,
    deals: int,
    webhook_url: str | None,
    webhook_secret: str | None,
    webhook_signature_version: str | None,
    webhook_subscription: tuple[str, ...],
) -> None:
    """Serve the HubSpot sandbox on 127.0.0.1:PORT until interrupted."""
    from sandbox.hubspot.app import create_app
    from sandbox.hubspot.config import HubSpotSandboxConfig
    from sandbox.hubspot.webhooks.settings import cli_webhooks
    from sandbox.server import SandboxServer

    webhooks = cli_webhooks(
        webhook_url, webhook_secret, webhook_signature_version, webhook_subscription
    )
    try:
        config = HubSpotSandboxConfig(
            seed=seed, contacts=contacts, companies=companies, deals=deals, webhooks=webhooks
        )
    except ValueError as exc:  # pydantic's ValidationError included
        raise click.ClickException(str(exc)) from exc
    server = SandboxServer(create_app(config), port=port)
    click.echo(f"HubSpot sandbox on {server.start()}  (admin: /_sandbox/)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


_mount_optional_groups()

if __name__ == "__main__":
    sys.exit(main())
