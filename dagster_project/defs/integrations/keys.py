"""Names of everything the integration factory builds, for any provider.

Asset keys are `<provider>/<integration>/<entity>`; groups, jobs, schedules, sensors and ops are
named `<provider>_<integration>_...` so two integrations (of one provider or of two) never
collide. Mapping assets and the CLI find raw assets through `entity_key`. This module only
computes names: it must never import a provider package or build a definition.
"""

from __future__ import annotations

import re

import dagster as dg


def slug(value: str) -> str:
    """A name Dagster accepts: every character outside [A-Za-z0-9_] becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", value)


def entity_key(provider: str, integration_id: str, entity: str) -> dg.AssetKey:
    """The raw asset of one entity of one integration: `<provider>/<integration>/<entity>`."""
    return dg.AssetKey([provider, slug(integration_id), entity])


def integration_name(provider: str, integration_id: str) -> str:
    """`<provider>_<integration>`: the prefix of every name built for one integration."""
    return f"{slug(provider)}_{slug(integration_id)}"


def group_name(provider: str, integration_id: str) -> str:
    return integration_name(provider, integration_id)


def extract_op_name(provider: str, integration_id: str) -> str:
    """The multi-asset's op (its run config goes under this name)."""
    return f"{integration_name(provider, integration_id)}_extract"


def sync_job_name(provider: str, integration_id: str) -> str:
    return f"{integration_name(provider, integration_id)}_sync"


def schedule_name(provider: str, integration_id: str) -> str:
    return f"{integration_name(provider, integration_id)}_schedule"


def freshness_sensor_name(provider: str, integration_id: str) -> str:
    return f"{integration_name(provider, integration_id)}_freshness_sensor"
