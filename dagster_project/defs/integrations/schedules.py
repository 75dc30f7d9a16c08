"""One job and (when the declaration has a cron) one schedule per declared integration.

Names are per integration (`<provider>_<integration>_sync` / `_schedule`), so integrations of
one provider or of several never collide. This module never names a provider.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.integrations.keys import entity_key, schedule_name, sync_job_name
from pipelines.declarations import IntegrationDeclaration
from sources.provider import Provider


def sync_job(provider: Provider, decl: IntegrationDeclaration) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=sync_job_name(provider.name, decl.id),
        selection=dg.AssetSelection.assets(
            *(entity_key(provider.name, decl.id, e) for e in decl.entities)
        ),
        description=f"Incremental sync of {provider.title} integration {decl.id}.",
    )


def build_schedule(
    provider: Provider,
    decl: IntegrationDeclaration,
    job: dg.UnresolvedAssetJobDefinition,
    running: bool,
) -> dg.ScheduleDefinition | None:
    if not decl.schedule:
        return None
    return dg.ScheduleDefinition(
        name=schedule_name(provider.name, decl.id),
        job=job,
        cron_schedule=decl.schedule,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if running
        else dg.DefaultScheduleStatus.STOPPED,
    )
