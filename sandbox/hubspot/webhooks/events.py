"""From a CRM change to HubSpot webhook events: one event per matching active subscription.

Changes are small typed values the mutation paths report (`Created`, `Updated`, `Archived`,
`Associated`); `events_for` turns one into event dicts in HubSpot's field order, with
`attemptNumber` 0. `HubSpotEventShape` tells the shared sender how a batch goes on the wire (a
JSON array, `attemptNumber` set per attempt). Nothing here queues or sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.webhooks.settings import Subscription, WebhookSettings


class HubSpotEventShape:
    """HubSpot's batch body: a JSON array of events, each carrying the attempt's number."""

    content_type = "application/json"

    def body(self, events: Sequence[dict[str, Any]], attempt_number: int) -> bytes:
        return orjson.dumps([{**e, "attemptNumber": attempt_number} for e in events])

    def event_id(self, event: dict[str, Any]) -> Any:
        return event["eventId"]

    def event_type(self, event: dict[str, Any]) -> str:
        return str(event["subscriptionType"])

    def headers(
        self, settings: Any, events: Sequence[dict[str, Any]], attempt_number: int
    ) -> Mapping[str, str]:
        return {"X-HubSpot-Timeout-Millis": str(settings.timeout_ms)}


@dataclass(frozen=True, slots=True)
class ChangeOrigin:
    """Who made a change, as events report it: `changeSource` and `sourceId`."""

    change_source: str  # API, CRM_UI, IMPORT, ...
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class Created:
    otype: ObjectType
    object_id: int
    values: dict[str, str | None]
    occurred_ms: int
    origin: ChangeOrigin


@dataclass(frozen=True, slots=True)
class Updated:
    otype: ObjectType
    object_id: int
    changes: dict[str, str | None]  # only properties whose value really changed
    occurred_ms: int
    origin: ChangeOrigin


@dataclass(frozen=True, slots=True)
class Archived:
    otype: ObjectType
    object_id: int
    occurred_ms: int
    origin: ChangeOrigin


@dataclass(frozen=True, slots=True)
class Associated:
    """One association between two records was added or removed (reported once per pair)."""

    from_type: ObjectType
    from_id: int
    to_type: ObjectType
    to_id: int
    occurred_ms: int
    origin: ChangeOrigin
    removed: bool = False
    primary_from: bool = False  # the from→to link is the primary one
    primary_to: bool = False  # the to→from link is the primary one


Change = Created | Updated | Archived | Associated


@dataclass
class EventContext:
    """Portal-wide fields of every event and the source of event ids."""

    portal_id: int
    app_id: int
    next_event_id: Callable[[], int]


def changed_values(
    before: dict[str, str | None], values: dict[str, str | None]
) -> dict[str, str | None]:
    """The subset of `values` that differs from `before` (None and "" are both "no value")."""
    return {k: v for k, v in values.items() if (before.get(k) or "") != (v or "")}


def _matching(
    settings: WebhookSettings, otype: ObjectType, kind: str, prop: str | None = None
) -> Iterator[Subscription]:
    for sub in settings.subscriptions:
        if not sub.active:
            continue
        obj, _, sub_kind = sub.eventType.partition(".")
        if sub_kind != kind:
            continue
        if obj == "object":
            if sub.objectTypeId != otype.type_id:
                continue
        elif obj != otype.singular:
            continue
        if kind == "propertyChange" and sub.propertyName not in (None, prop):
            continue
        yield sub


def _event(
    ctx: EventContext, sub: Subscription, otype: ObjectType, occurred_ms: int, **fields: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": ctx.next_event_id(),
        "subscriptionId": sub.id,
        "portalId": ctx.portal_id,
        "appId": ctx.app_id,
        "occurredAt": occurred_ms,
        "subscriptionType": sub.eventType,
        "attemptNumber": 0,
    }
    if sub.eventType.startswith("object."):
        event["objectTypeId"] = otype.type_id
    event.update(fields)
    return event


def _origin_fields(origin: ChangeOrigin) -> dict[str, Any]:
    out: dict[str, Any] = {"changeSource": origin.change_source}
    if origin.source_id is not None:
        out["sourceId"] = origin.source_id
    return out


def _property_events(
    ctx: EventContext,
    settings: WebhookSettings,
    otype: ObjectType,
    object_id: int,
    values: dict[str, str | None],
    occurred_ms: int,
    origin: ChangeOrigin,
) -> list[dict[str, Any]]:
    out = []
    for name, value in values.items():
        for sub in _matching(settings, otype, "propertyChange", name):
            out.append(
                _event(
                    ctx,
                    sub,
                    otype,
                    occurred_ms,
                    objectId=object_id,
                    propertyName=name,
                    propertyValue="" if value is None else str(value),
                    **_origin_fields(origin),
                )
            )
    return out


def _association_type(frm: ObjectType, to: ObjectType) -> str:
    return f"{frm.singular.upper()}_TO_{to.singular.upper()}"


def events_for(
    change: Change, settings: WebhookSettings, ctx: EventContext
) -> list[dict[str, Any]]:
    """Every event one change produces under the current subscriptions."""
    if isinstance(change, Created):
        out = [
            _event(
                ctx,
                sub,
                change.otype,
                change.occurred_ms,
                objectId=change.object_id,
                **_origin_fields(change.origin),
                changeFlag="NEW",
            )
            for sub in _matching(settings, change.otype, "creation")
        ]
        if settings.property_changes_on_creation:
            set_values = {k: v for k, v in change.values.items() if v not in (None, "")}
            out += _property_events(
                ctx,
                settings,
                change.otype,
                change.object_id,
                set_values,
                change.occurred_ms,
                change.origin,
            )
        return out
    if isinstance(change, Updated):
        return _property_events(
            ctx,
            settings,
            change.otype,
            change.object_id,
            change.changes,
            change.occurred_ms,
            change.origin,
        )
    if isinstance(change, Archived):
        return [
            _event(
                ctx,
                sub,
                change.otype,
                change.occurred_ms,
                objectId=change.object_id,
                **_origin_fields(change.origin),
                changeFlag="DELETED",
            )
            for sub in _matching(settings, change.otype, "deletion")
        ]
    out = []
    sides = (
        (change.from_type, change.from_id, change.to_type, change.to_id, change.primary_from),
        (change.to_type, change.to_id, change.from_type, change.from_id, change.primary_to),
    )
    for frm, frm_id, to, to_id, primary in sides:
        for sub in _matching(settings, frm, "associationChange"):
            out.append(
                _event(
                    ctx,
                    sub,
                    frm,
                    change.occurred_ms,
                    **_origin_fields(change.origin),
                    associationType=_association_type(frm, to),
                    fromObjectId=frm_id,
                    toObjectId=to_id,
                    associationRemoved=change.removed,
                    isPrimaryAssociation=primary,
                )
            )
    return out
