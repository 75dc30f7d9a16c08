"""`platform sync run|runs`: run a sync of one integration and read the sync-run log.

Thin over `pipelines.runner.SyncRunner` (what the Dagster assets run) and the run log; parsing
and printing only. Never prints a credential.
"""

from __future__ import annotations

import json
import time

import click

from core.errors import IntegrationError
from core.settings import get_settings


class ProgressPrinter:
    """Prints rows extracted per entity to stderr, at most a few times a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, entity: str, rows: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            click.echo(f"  {entity}: {rows:,} rows extracted", err=True)


@click.group()
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
