"""One schedule per declared HubSpot integration, running all its entities."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.hubspot.assets import entity_key, slug
from pipelines.declarations import IntegrationDeclaration


def sync_job(decl: IntegrationDeclaration) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=f"hubspot_{slug(decl.id)}_sync",
        selection=dg.AssetSelection.assets(*(entity_key(decl, e) for e in decl.entities)),
        description=f"Incremental sync of HubSpot integration {decl.id}.",
    )


def build_schedule(
    decl: IntegrationDeclaration, job: dg.UnresolvedAssetJobDefinition, running: bool
) -> dg.ScheduleDefinition | None:
    if not decl.schedule:
        return None
    return dg.ScheduleDefinition(
        name=f"hubspot_{slug(decl.id)}_schedule",
        job=job,
        cron_schedule=decl.schedule,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if running
        else dg.DefaultScheduleStatus.STOPPED,
    )
