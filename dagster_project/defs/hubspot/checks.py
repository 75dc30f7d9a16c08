"""Freshness checks for HubSpot assets and the sensor that evaluates them."""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from dagster_project.defs.hubspot.assets import entity_key
from pipelines.declarations import IntegrationDeclaration


def freshness_checks(decl: IntegrationDeclaration) -> list[dg.AssetChecksDefinition]:
    """Last-update freshness as asset checks (they show as checks in the UI and can alert).

    Dagster marks these builders superseded by `FreshnessPolicy`; we keep them because a check
    result is what our alerting and the issue ask for, and silence only that warning.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return list(
            dg.build_last_update_freshness_checks(
                assets=[entity_key(decl, e) for e in decl.entities],
                lower_bound_delta=timedelta(hours=decl.freshness_hours),
            )
        )


def freshness_sensor(checks: list[dg.AssetChecksDefinition], running: bool) -> dg.SensorDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name="hubspot_freshness_sensor",
            default_status=dg.DefaultSensorStatus.RUNNING
            if running
            else dg.DefaultSensorStatus.STOPPED,
        )
