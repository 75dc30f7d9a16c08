"""Materialize one declared integration's raw assets through Dagster, in-process.

The demo and the CLI call `materialize_integration` so their syncs are Dagster runs on the
`DAGSTER_HOME` instance: the UI shows them as materializations with their checks evaluated (the
entity checks and the freshness checks), not as "Never materialized". The sync itself is the
asset's one call into the runner; `full_refresh` reaches it through the asset's run config
(`SyncConfig`). This module builds nothing of its own: it reuses the integration factory, and
must never import `cli/` (the CLI imports it, not the other way round).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from core.errors import ValidationError
from dagster_project.defs.integrations.assets import SyncConfig, build_integration_assets
from dagster_project.defs.integrations.checks import freshness_checks
from dagster_project.defs.integrations.keys import entity_key, extract_op_name
from dagster_project.resources import PlatformResource
from pipelines.declarations import Declarations, IntegrationDeclaration, load_declarations
from sources.provider import get_provider


@dataclass(frozen=True)
class IntegrationMaterialization:
    """One Dagster run of an integration's assets, with what each entity's sync loaded.

    `entities` holds each entity asset's materialization metadata as plain values (mode,
    rows_extracted, rows_loaded, archived_rows, association_rows, cursor_ms, table,
    sync_run_id, requests_made ...): the runner's `SyncResult`, as Dagster recorded it.
    `checks` maps (entity, check name) to whether the check passed.
    """

    integration_id: str
    provider: str
    result: dg.ExecuteInProcessResult
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def run_id(self) -> str:
        """The Dagster run id (the run the UI shows)."""
        return self.result.run_id

    @property
    def sync_run_ids(self) -> list[str]:
        """The sync-run log ids of the runner's runs (one per run of the multi-asset)."""
        return sorted({str(m["sync_run_id"]) for m in self.entities.values()})

    def rows_loaded(self) -> dict[str, int]:
        return {entity: int(m.get("rows_loaded", 0)) for entity, m in self.entities.items()}


def dagster_instance() -> dg.DagsterInstance:
    """The `DAGSTER_HOME` instance when it is set (what the UI reads), else an ephemeral one.

    The caller owns it (use it as a context manager to dispose of it)."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)  # a fresh data dir has none yet
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def find_declaration(declarations: Declarations, integration_id: str) -> IntegrationDeclaration:
    for decl in declarations.integrations:
        if decl.id == integration_id:
            return decl
    raise ValidationError(
        f"integration {integration_id!r} is not declared",
        integration_id=integration_id,
        hint="add it to the declarations file (pipelines/declarations.yaml) so Dagster builds "
        "its assets",
    )


def materialize_integration(
    integration_id: str,
    *,
    entities: Sequence[str] | None = None,
    full_refresh: bool = False,
    instance: dg.DagsterInstance | None = None,
    declarations: Declarations | None = None,
    platform: PlatformResource | None = None,
    raise_on_error: bool = True,
    console_log_level: str = "WARNING",
) -> IntegrationMaterialization:
    """Sync a declared integration as a Dagster run of its entity assets and their checks.

    `entities` selects a subset of the declared entities (all when None); `full_refresh` is the
    asset's run config. `console_log_level` only quiets what the run prints (the instance's event
    log, which the UI reads, keeps every event). `declarations` default to the deployment's declarations file,
    `platform` to a `PlatformResource` from the environment, `instance` to `dagster_instance()`.
    """
    platform = platform or PlatformResource()
    if declarations is None:
        declarations = load_declarations(platform.settings().declarations_path)
    decl = find_declaration(declarations, integration_id)
    provider = get_provider(decl.type)
    if not provider.extracts:
        raise ValidationError(
            f"{provider.title} integrations cannot be synced yet",
            provider=provider.name,
            integration_id=integration_id,
        )
    selected = list(entities) if entities else list(decl.entities)
    undeclared = [e for e in selected if e not in decl.entities]
    if undeclared:
        raise ValidationError(
            f"entities not declared for {integration_id}: {', '.join(undeclared)}",
            integration_id=integration_id,
            hint=f"declared: {', '.join(decl.entities)}",
        )
    keys = [entity_key(provider.name, decl.id, e) for e in selected]
    assets = [
        build_integration_assets(decl, provider, warehouse_kind=platform.settings().WAREHOUSE),
        *freshness_checks(provider.name, decl),
    ]
    run_config = dg.RunConfig(
        ops={extract_op_name(provider.name, decl.id): SyncConfig(full_refresh=full_refresh)},
        loggers={"console": {"config": {"log_level": console_log_level}}},
    )
    with ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dagster_instance())
        result = dg.materialize(
            assets,
            selection=keys,
            run_config=run_config,
            instance=instance,
            resources={"platform": platform},
            tags={"platform/integration": decl.id, "platform/provider": provider.name},
            raise_on_error=raise_on_error,
        )
    return IntegrationMaterialization(
        integration_id=decl.id,
        provider=provider.name,
        result=result,
        entities={
            event.asset_key.path[-1]: {
                name: value.value
                for name, value in event.event_specific_data.materialization.metadata.items()
            }
            for event in result.get_asset_materialization_events()
        },
        checks={
            (check.asset_key.path[-1], check.check_name): check.passed
            for check in result.get_asset_check_evaluations()
        },
    )
