"""`platform sync run|runs`: run a sync of one integration and read the sync-run log.

Thin over `pipelines.runner.SyncRunner` (what the Dagster assets run) and the run log; parsing
and printing only. Never prints a credential.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from core.errors import IntegrationError
from core.settings import get_settings

if TYPE_CHECKING:
    from pipelines.models import SyncRun


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
    """List recent sync runs, newest first: start time (UTC), status, rows, duration, error."""
    from pipelines.registry import IntegrationRegistry
    from pipelines.run_log import SyncRunLog

    registry = IntegrationRegistry.from_settings(get_settings())
    runs = SyncRunLog(registry.db).list(integration_id, limit)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    for line in format_runs(runs):
        click.echo(line)


RUNS_HEADER = ("RUN", "INTEGRATION", "MODE", "STATUS", "STARTED (UTC)", "ROWS", "SECONDS", "ERROR")


def format_runs(runs: list[SyncRun]) -> list[str]:
    """A header and one line per run, newest first, with its start time in UTC; columns as wide
    as their longest value, so ids and names of any length stay aligned."""
    if not runs:
        return ["no sync runs recorded yet"]
    table = [RUNS_HEADER] + [
        (
            r.id,
            r.integration_id,
            r.mode,
            r.status,
            _utc(r.started_at),
            f"{sum((r.rows_loaded or {}).values()):,}",
            "-" if r.duration_s is None else f"{r.duration_s:.1f}",
            r.error or "",
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(RUNS_HEADER) - 1)]
    right = {5, 6}  # numbers align right
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        )
        + ("  " + row[-1] if row[-1] else "")
        for row in table
    ]


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # stored naive means UTC (the clock's convention)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
