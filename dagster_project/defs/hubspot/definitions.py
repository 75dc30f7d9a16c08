"""All HubSpot definitions, built from the declarations by one factory per kind of object."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.hubspot.assets import build_hubspot_assets
from dagster_project.defs.hubspot.checks import freshness_checks, freshness_sensor
from dagster_project.defs.hubspot.schedules import build_schedule, sync_job
from pipelines.declarations import Declarations


def hubspot_definitions(declarations: Declarations, *, schedules_running: bool) -> dg.Definitions:
    assets, jobs, schedules, checks = [], [], [], []
    for decl in declarations.integrations:
        if decl.type != "hubspot":
            continue
        assets.append(build_hubspot_assets(decl))
        job = sync_job(decl)
        jobs.append(job)
        schedule = build_schedule(decl, job, schedules_running)
        if schedule is not None:
            schedules.append(schedule)
        checks.extend(freshness_checks(decl))
    sensors = []
    if checks:
        sensors.append(freshness_sensor(checks, schedules_running))
    return dg.Definitions(
        assets=assets, jobs=jobs, schedules=schedules, asset_checks=checks, sensors=sensors
    )
