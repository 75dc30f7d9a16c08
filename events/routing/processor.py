"""Run routed event batches through their handlers and record the outcome in the inbox.

Success marks a batch processed; a handler that raises marks it failed with the retry schedule
(the inbox dead-letters it after the last attempt). Events no route matches are dead-lettered at
once (retrying cannot help until the routes change; replay them then); ignored events are
simply processed. This is the only place that turns handler results into inbox states.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from events.handlers.context import HandlerContext, PlatformServices
from events.routing.plan import (
    DispatchPlan,
    EventBatch,
    plan_dispatch,
    unrouted_reason,
)
from events.routing.routes import RouteTable

if TYPE_CHECKING:
    from core.events import StoredEvent
    from events.handlers.registry import HandlerRegistry
    from inbox.store import Inbox

MAX_REASON_CHARS = 2000

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What happened to one batch: processed, or failed (with the ids now dead-lettered)."""

    label: str
    integration_id: str
    handler: str
    event_ids: list[int]
    status: Literal["processed", "failed"]
    error: str | None = None
    dead_letter_ids: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def failure_reason(batch: EventBatch, handler: str, exc: BaseException) -> str:
    text = f"{batch.label} ({handler}): {type(exc).__name__}: {exc}"
    return text[:MAX_REASON_CHARS]


class EventProcessor:
    """Processes stored events by their routes; one instance serves one run."""

    def __init__(
        self,
        inbox: Inbox,
        routes: RouteTable,
        services: PlatformServices,
        *,
        retry_schedule: Sequence[float],
        handlers: HandlerRegistry | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        from events.handlers import default_registry

        self.inbox = inbox
        self.routes = routes
        self.services = services
        self.retry_schedule = list(retry_schedule)
        self.handlers = handlers or default_registry
        self.log = logger or log

    def settle_without_run(self, plan: DispatchPlan) -> list[int]:
        """Mark ignored events processed and dead-letter unrouted ones; returns dead ids."""
        if plan.ignored:
            self.inbox.mark_processed([e.id for e in plan.ignored])
        dead: list[int] = []
        for event in plan.unrouted:
            reason = unrouted_reason(event, self.routes)
            self.log.warning("webhook event %s: %s", event.id, reason)
            # An empty schedule means "no retry": the inbox dead-letters on the first failure.
            dead.extend(self.inbox.mark_failed([event.id], reason, []))
        return dead

    def process(self, events: Sequence[StoredEvent]) -> list[BatchOutcome]:
        plan = plan_dispatch(events, self.routes)
        self.settle_without_run(plan)
        return [self.process_batch(batch) for batch in plan.batches]

    def process_batch(self, batch: EventBatch) -> BatchOutcome:
        name = batch.match.route.handler_name or "ignore"
        ids = batch.event_ids
        outcome = BatchOutcome(batch.label, batch.integration_id, name, ids, "processed")
        context = HandlerContext(
            integration_id=batch.integration_id,
            provider=batch.provider,
            route=batch.match.route,
            entity=batch.entity,
            services=self.services,
            logger=self.log,
        )
        try:
            handler = self.handlers.get(name)
            result = handler(list(batch.events), context)
        except Exception as exc:  # noqa: BLE001 - any handler failure goes to retry
            reason = failure_reason(batch, name, exc)
            self.log.warning("webhook batch %s failed: %s", batch.label, reason)
            outcome.status = "failed"
            outcome.error = reason
            outcome.dead_letter_ids = list(self.inbox.mark_failed(ids, reason, self.retry_schedule))
            return outcome
        self.inbox.mark_processed(ids)
        outcome.metadata = dict(result or {})
        return outcome
