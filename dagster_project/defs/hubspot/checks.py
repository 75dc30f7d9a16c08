"""Freshness checks for HubSpot assets and the sensor that evaluates them."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from dagster_project.defs.hubspot.assets import entity_key
from pipelines.declarations import IntegrationDeclaration


def freshness_checks(decl: IntegrationDeclaration) -> list[dg.AssetChecksDefinition]:
    return list(
        dg.build_last_update_freshness_checks(
            assets=[entity_key(decl, e) for e in decl.entities],
            lower_bound_delta=timedelta(hours=decl.freshness_hours),
        )
    )
