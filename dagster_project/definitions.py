"""The code location: merges the integrations', webhooks' and mappings' definitions; no logic
lives here (and no provider is named: `defs/<provider>/` would add only what a provider adds
beyond the common factory)."""

from __future__ import annotations

import dagster as dg

from core.settings import get_settings
from dagster_project.defs.integrations.definitions import integrations_definitions
from dagster_project.defs.mappings.definitions import mappings_definitions
from dagster_project.defs.privacy.definitions import privacy_definitions
from dagster_project.defs.webhooks.definitions import webhooks_definitions
from dagster_project.resources import PlatformResource
from pipelines.declarations import load_declarations


def build_definitions(declarations_path=None) -> dg.Definitions:
    settings = get_settings()
    declarations = load_declarations(declarations_path or settings.declarations_path)
    running = settings.ENVIRONMENT == "development"
    mappings = mappings_definitions(declarations, settings)
    return dg.Definitions.merge(
        integrations_definitions(
            declarations, schedules_running=running, warehouse_kind=settings.WAREHOUSE
        ),
        webhooks_definitions(sensors_running=running),
        mappings,
        privacy_definitions(mappings, settings),
        dg.Definitions(resources={"platform": PlatformResource()}),
    )


defs = build_definitions()
