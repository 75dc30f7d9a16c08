"""Definitions for every declared integration, of any provider, from one factory.

Per integration: a subsettable multi-asset (one asset per entity, with its checks), a sync job,
a schedule when the declaration has one, freshness checks and their sensor. Declarations whose
provider cannot extract yet (`Provider.extracts` false) are skipped without error. This module
never names a provider: it asks the registry for the one each declaration names.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.integrations.assets import build_integration_assets
from dagster_project.defs.integrations.checks import freshness_checks, freshness_sensor
from dagster_project.defs.integrations.schedules import build_schedule, sync_job
from pipelines.declarations import Declarations, IntegrationDeclaration
from sources.provider import Provider, get_provider


def extracting_integrations(
    declarations: Declarations,
) -> list[tuple[IntegrationDeclaration, Provider]]:
    """Each declared integration with its provider, leaving out providers that cannot extract."""
    found = []
    for decl in declarations.integrations:
        provider = get_provider(decl.type)
        if provider.extracts:
            found.append((decl, provider))
    return found


def integration_definitions(
    decl: IntegrationDeclaration,
    provider: Provider,
    *,
    schedules_running: bool,
    warehouse_kind: str = "duckdb",
) -> dg.Definitions:
    """Everything built for one integration."""
    job = sync_job(provider, decl)
    schedule = build_schedule(provider, decl, job, schedules_running)
    checks = freshness_checks(provider.name, decl)
    return dg.Definitions(
        assets=[build_integration_assets(decl, provider, warehouse_kind=warehouse_kind)],
        jobs=[job],
        schedules=[schedule] if schedule is not None else [],
        asset_checks=checks,
        sensors=[freshness_sensor(provider.name, decl, checks, schedules_running)]
        if checks
        else [],
    )


def integrations_definitions(
    declarations: Declarations, *, schedules_running: bool, warehouse_kind: str = "duckdb"
) -> dg.Definitions:
    """Definitions of every declared integration whose provider can extract."""
    return dg.Definitions.merge(
        *(
            integration_definitions(
                decl,
                provider,
                schedules_running=schedules_running,
                warehouse_kind=warehouse_kind,
            )
            for decl, provider in extracting_integrations(declarations)
        ),
        dg.Definitions(),
    )
