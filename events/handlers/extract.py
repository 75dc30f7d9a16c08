"""The built-in `extract` action: bring the affected entity of the integration up to date.

For HubSpot, when every event names its object and there are at most `max_ids` of them, the
named records are read by id (batch read, see `hubspot_records`); otherwise the entity gets an
incremental sync through the `SyncRunner`. Providers without a source yet fail here with the
runner's own clear error, so their events go to retry and then to the dead letters (replay
them once the source lands) instead of being marked processed with nothing done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ValidationError
from events.handlers.context import HandlerContext
from events.handlers.registry import webhook_handler

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
    """Read exactly these HubSpot records by id and merge them into the raw tables."""
    from events.handlers.hubspot_records import fetch_records

    report = fetch_records(context.runner, context.integration_id, entity, ids)
    if report.missing:
        context.logger.info(
            "%s: %d of %d ids no longer exist in HubSpot (permanently deleted): %s",
            context.integration_id,
            len(report.missing),
            report.requested,
            ", ".join(report.missing[:20]),
        )
    return report.metadata()


@webhook_handler("extract")
def extract(events: Sequence[StoredEvent], context: HandlerContext) -> dict[str, Any]:
    entity = require_entity(context)
    require_integration(context)
    options = context.route.extract_options
    ids = {e.object_id for e in events}
    by_id = (
        context.provider == "hubspot"
        and options.by_id
        and None not in ids
        and "" not in ids
        and len(ids) <= options.max_ids
    )
    if by_id:
        return extract_ids(context, entity, sorted(str(i) for i in ids))
    return extract_entity(context, entity)
