"""The built-in `extract` action: bring the affected entity of the integration up to date.

When every event names its object, the provider's entity can be read by id (`EntitySpec.by_ids`)
and there are at most `max_ids` ids, the runner reads exactly those records
(`SyncRequest(ids=...)`, run-log mode `by_id`); otherwise the entity gets an incremental sync
through the runner. Providers without a source yet fail here with the runner's own clear error,
so their events go to retry and then to the dead letters (replay them once the source lands)
instead of being marked processed with nothing done. This module never names a provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ValidationError
from events.handlers.context import HandlerContext
from events.handlers.registry import webhook_handler
from events.providers import entity_spec, provider_named

if TYPE_CHECKING:
    from core.events import StoredEvent


def require_entity(context: HandlerContext) -> str:
    if not context.entity:
        raise ValidationError(
            f"route {context.route.name or context.route.event} has no entity and the events "
            "carry no object type",
            provider=context.provider,
            integration_id=context.integration_id,
            hint="set `entity:` on the route",
        )
    return context.entity


def require_integration(context: HandlerContext) -> None:
    """The integration must exist and be of the event's provider."""
    integration = context.registry.get(context.integration_id)
    if integration.type != context.provider:
        raise ValidationError(
            f"{context.provider} events for integration {integration.id}, which is a "
            f"{integration.type} integration",
            provider=context.provider,
            integration_id=integration.id,
        )


def extract_entity(context: HandlerContext, entity: str) -> dict[str, Any]:
    """An incremental sync of one entity through the runner (the one way a sync runs)."""
    from pipelines.runner import SyncRequest

    result = context.runner.run(
        SyncRequest(context.integration_id, entities=[entity], actor="webhooks")
    )
    return {
        "mode": result.mode,
        "sync_run_id": result.run_id,
        "entity": entity,
        "rows_loaded": sum(result.rows_loaded.values()),
        "requests": result.requests,
    }


def extract_ids(context: HandlerContext, entity: str, ids: Sequence[str]) -> dict[str, Any]:
    """Read exactly these records by id through the runner and merge them into the raw tables."""
    from pipelines.runner import SyncRequest

    result = context.runner.run(
        SyncRequest(context.integration_id, entities=[entity], ids=list(ids), actor="webhooks")
    )
    report = result.reports.get(entity)
    requested = report.ids_requested if report is not None else len(ids)
    archived = report.archived_rows if report is not None else 0
    live = report.rows if report is not None else 0  # rows: live records only
    missing = list(report.missing_ids) if report is not None else []
    if missing:
        found = provider_named(context.provider)
        context.logger.info(
            "%s: %d of %d ids no longer exist in %s (permanently deleted): %s",
            context.integration_id,
            len(missing),
            requested,
            found.title if found is not None else context.provider,
            ", ".join(missing[:20]),
        )
    return {
        "mode": result.mode,
        "sync_run_id": result.run_id,
        "entity": entity,
        "ids_requested": requested,
        "live_records": live,
        "archived_records": archived,
        "missing_ids": len(missing),
        "rows_loaded": sum(result.rows_loaded.values()),
        "requests": result.requests,
    }


def reads_by_id(context: HandlerContext, entity: str, ids: set[str | None]) -> bool:
    """True when the batch's records can be read by id instead of an incremental sync."""
    options = context.route.extract_options
    spec = entity_spec(context.provider, entity)
    return (
        options.by_id
        and spec is not None
        and spec.by_ids
        and None not in ids
        and "" not in ids
        and len(ids) <= options.max_ids
    )


@webhook_handler("extract")
def extract(events: Sequence[StoredEvent], context: HandlerContext) -> dict[str, Any]:
    entity = require_entity(context)
    require_integration(context)
    ids = {e.object_id for e in events}
    if reads_by_id(context, entity, ids):
        return extract_ids(context, entity, sorted(str(i) for i in ids))
    return extract_entity(context, entity)
