"""Group ready inbox events into batches that one run each can process.

A batch shares an integration, a matched route and an entity, so a burst of changes to one
entity becomes one targeted fetch, not a run per event. Events a route ignores and events no
route matches are set apart: they need no run. Pure functions: no I/O here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from events.providers import entity_of
from events.routing.routes import RouteMatch, RouteTable

if TYPE_CHECKING:
    from core.events import StoredEvent

# One run processes at most this many events (a by-id read fetches them in a few requests).
MAX_EVENTS_PER_BATCH = 1000


@dataclass(frozen=True)
class EventBatch:
    """Events of one integration that matched the same route and concern the same entity."""

    integration_id: str
    provider: str
    match: RouteMatch
    entity: str | None
    events: tuple[StoredEvent, ...]

    @property
    def event_ids(self) -> list[int]:
        return sorted(e.id for e in self.events)

    @property
    def label(self) -> str:
        return f"{self.integration_id}/{self.match.label}/{self.entity or '-'}"


@dataclass
class DispatchPlan:
    batches: list[EventBatch] = field(default_factory=list)
    ignored: list[StoredEvent] = field(default_factory=list)
    unrouted: list[StoredEvent] = field(default_factory=list)


def plan_dispatch(
    events: Iterable[StoredEvent],
    routes: RouteTable,
    *,
    max_batch: int = MAX_EVENTS_PER_BATCH,
) -> DispatchPlan:
    """Route every event and group the routed ones; batches keep the events' id order."""
    plan = DispatchPlan()
    grouped: dict[tuple[str, str, int, str | None], list[StoredEvent]] = {}
    matches: dict[int, RouteMatch] = {}
    for event in sorted(events, key=lambda e: e.id):
        match = routes.match(event.provider, event.event_type)
        if match is None:
            plan.unrouted.append(event)
            continue
        if match.route.action == "ignore":
            plan.ignored.append(event)
            continue
        entity = match.route.entity or entity_of(event.provider, event.object_type)
        key = (event.integration_id, event.provider, match.index, entity)
        grouped.setdefault(key, []).append(event)
        matches[match.index] = match
    for (integration_id, provider, index, entity), members in grouped.items():
        for start in range(0, len(members), max_batch):
            plan.batches.append(
                EventBatch(
                    integration_id=integration_id,
                    provider=provider,
                    match=matches[index],
                    entity=entity,
                    events=tuple(members[start : start + max_batch]),
                )
            )
    return plan


def run_key_for(events: Sequence[StoredEvent], dispatch_seq: int) -> str:
    """A run key from the sorted event ids and their attempt counts, plus the sensor's dispatch
    sequence number.

    Re-evaluating a tick (same cursor, same events) gives the same key, so Dagster launches the
    run once. A retry has a higher attempt count and a replayed dead letter a later sequence
    number, so both get fresh keys instead of being skipped as already launched.
    """
    parts = ",".join(f"{e.id}:{e.attempts}" for e in sorted(events, key=lambda e: e.id))
    digest = hashlib.sha256(f"{dispatch_seq}|{parts}".encode()).hexdigest()
    return f"webhooks-{digest[:32]}"


def unrouted_reason(event: StoredEvent, routes: RouteTable) -> str:
    return (
        f"no route matches {event.provider} event {event.event_type!r} in {routes.source}; "
        "add a route (or an ignore route) and replay the dead letter"
    )
