"""`platform privacy`: erasure requests, their tombstones, and the analyst-facing tables.

Calls `privacy.*` only; never prints a personal value beyond what the operator typed (records
are listed by source, integration, entity and id).
"""

from __future__ import annotations

import click

from core.errors import IntegrationError
from core.settings import get_settings


@click.group()
def privacy() -> None:
    """Personal data: erase a person, list tombstones, rebuild the analyst tables."""


@privacy.command("erase")
@click.option("--email", default=None, help="The person's e-mail address.")
@click.option("--golden-id", default=None, help="A golden record id (any model).")
@click.option("--dry-run", is_flag=True, help="List what would be erased; change nothing.")
@click.option("--actor", default="cli", show_default=True, help="Who asks (for the audit log).")
@click.option(
    "--no-compact",
    is_flag=True,
    help="Skip rewriting the DuckDB file / VACUUM FULL (deleted rows stay in free space).",
)
def erase(
    email: str | None, golden_id: str | None, dry_run: bool, actor: str, no_compact: bool
) -> None:
    """Erase every source record of one person (found through the crosswalk) from raw,
    canonical, golden, crosswalk and quarantine tables and the run artefacts; keep tombstones."""
    from privacy.erasure import Erasure

    if (email is None) == (golden_id is None):
        raise click.UsageError("give exactly one of --email or --golden-id")
    try:
        report = Erasure(get_settings()).erase(
            email=email, golden_id=golden_id, dry_run=dry_run, actor=actor, compact=not no_compact
        )
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from None
    head = "dry run: would erase" if dry_run else "erased"
    click.echo(f"{head} {len(report.records)} source record(s) (request {report.request_id})")
    for r in report.records:
        golden = f" golden {r.golden_id}" if r.golden_id else ""
        click.echo(
            f"  {r.source}/{r.integration_id}/{r.entity}/{r.source_id}{golden} "
            f"(found by {r.found_by})"
        )
    for item in report.unresolved:
        click.echo(f"  unresolved (no raw table known): {item}", err=True)
    verb = "would remove" if dry_run else "removed"
    for table, rows in sorted(report.rows.items()):
        click.echo(f"  {verb} {rows} row(s) from {table}")
    click.echo(
        f"  {verb} {report.artefact_rows} row(s) from {len(report.artefact_files)} load "
        "package file(s)"
    )
    if not dry_run:
        click.echo(f"  removed {report.inbox_events} inbox event(s); tombstones kept")


@privacy.command("tombstones")
def tombstones() -> None:
    """Erased records the post-load hook keeps out of raw (newest last)."""
    from destinations.warehouse import Warehouse
    from privacy.tombstones import list_tombstones

    for s in list_tombstones(Warehouse.from_settings(get_settings())):
        click.echo(
            f"{s.erased_at.isoformat()}  {s.source}/{s.integration_id}/{s.entity}/{s.source_id}  "
            f"request {s.request_id}"
        )


@privacy.command("refresh-views")
@click.option(
    "--role", default=None, help="Postgres: the analyst role to grant (default platform_analyst)."
)
def refresh_views(role: str | None) -> None:
    """Rebuild the analyst tables (schema crm_analyst) now; Dagster does it after dedup."""
    from destinations.warehouse import Warehouse
    from mappings.dedup import load_match_rules_dir
    from mappings.spec import load_mappings
    from privacy.views import ANALYST_ROLE, AnalystViews

    settings = get_settings()
    try:
        result = AnalystViews(
            Warehouse.from_settings(settings),
            settings.SECRET_KEY.get_secret_value(),
            role=role or ANALYST_ROLE,
        ).refresh(
            load_mappings(settings.mappings_dir),
            load_match_rules_dir(settings.mappings_dir / "match_rules", require_models=False),
        )
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from None
    for table, rows in sorted(result.tables.items()):
        click.echo(f"crm_analyst.{table}: {rows} rows")
    click.echo(
        f"written to {result.location}" + (f", granted to {result.role}" if result.role else "")
    )
