"""HubSpot deliveries: a JSON array of events, stored one row per event (delivery id = eventId)."""

from __future__ import annotations

from typing import Any

from core.events import (
    ParsedEvent,
    PayloadError,
    dump_json,
    load_json,
    scalar_id,
)

# subscriptionType prefix -> the entity name our HubSpot source uses
OBJECT_TYPES = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "ticket": "tickets",
    "product": "products",
    "line_item": "line_items",
    "conversation": "conversations",
}
# objectTypeId of generic `object.*` subscriptions -> entity name
OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-5": "tickets",
    "0-7": "products",
    "0-8": "line_items",
}


def parse(body: bytes) -> list[ParsedEvent]:
    batch = load_json(body)
    if not isinstance(batch, list):
        raise PayloadError("invalid_payload", "a HubSpot delivery must be a JSON array of events")
    if not batch:
        raise PayloadError("invalid_payload", "the HubSpot batch holds no events")
    if len(batch) == 1:
        # A one-event batch is `[<event>]`: its event's own JSON is the exact bytes inside.
        return [_event(0, batch[0], body.strip()[1:-1].strip())]
    return [_event(position, item) for position, item in enumerate(batch)]


def _event(position: int, item: Any, raw: bytes | None = None) -> ParsedEvent:
    if not isinstance(item, dict):
        raise PayloadError("invalid_payload", f"event #{position} is not a JSON object")
    event_id = scalar_id(item.get("eventId"))
    if event_id is None:
        raise PayloadError("invalid_payload", f"event #{position} has no eventId")
    subscription = item.get("subscriptionType")
    if not isinstance(subscription, str) or not subscription:
        raise PayloadError("invalid_payload", f"event #{position} has no subscriptionType")
    prefix = subscription.split(".", 1)[0]
    if prefix == "object":
        type_id = scalar_id(item.get("objectTypeId"))
        object_type = OBJECT_TYPE_IDS.get(type_id or "", type_id)
    else:
        object_type = OBJECT_TYPES.get(prefix, prefix)
    object_id = scalar_id(item.get("objectId"))
    if object_id is None:  # merge events name the surviving record instead
        object_id = scalar_id(item.get("primaryObjectId") or item.get("newObjectId"))
    payload = raw if raw is not None else dump_json(item)
    return ParsedEvent(event_id, subscription, object_type, object_id, payload)
