"""HubSpot's webhook spec: how a delivery becomes events, which entity an event names, and what
the receiver documents about it.

A delivery is a JSON array of events, stored one row per event (delivery id = eventId); each
event's object type is spelled as the entity our HubSpot source extracts. Signature schemes live
in `webhook_receiver/verification/` and are named here. Parsing never checks signatures, never
stores anything and never calls HubSpot.
"""

from __future__ import annotations

from typing import Any

from core.events import (
    ParsedEvent,
    PayloadError,
    SignedRequest,
    dump_json,
    load_json,
    scalar_id,
)
from sources.hubspot.webhook_apply import APPLY_RULES
from sources.provider import WebhookSpec

JSON = "application/json"

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


def parse(request: SignedRequest, media_type: str, scheme: str) -> list[ParsedEvent]:
    """A verified delivery -> one event per batch item, or PayloadError."""
    return parse_batch(request.body)


def parse_batch(body: bytes) -> list[ParsedEvent]:
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


def entity_for(object_type: str | None) -> str | None:
    """The HubSpot entity an event's object type names: an entity name (what `parse` stores), a
    subscription prefix (`contact`) or an objectTypeId (`0-1`); None when it names none."""
    if not object_type:
        return None
    return OBJECT_TYPES.get(object_type) or OBJECT_TYPE_IDS.get(object_type) or object_type


OPENAPI = {
    "request_body": {JSON: {"schema": {"$ref": "#/components/schemas/HubSpotBatch"}}},
    "schemas": {
        "HubSpotEvent": {
            "type": "object",
            "required": ["eventId", "subscriptionType"],
            "additionalProperties": True,
            "properties": {
                "eventId": {"type": ["integer", "string"]},
                "subscriptionType": {"type": "string", "examples": ["contact.propertyChange"]},
                "objectId": {"type": ["integer", "string"]},
                "portalId": {"type": "integer"},
                "occurredAt": {"type": "integer", "description": "Epoch ms"},
                "propertyName": {"type": "string"},
                "propertyValue": {"type": "string"},
            },
        },
        "HubSpotBatch": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/components/schemas/HubSpotEvent"},
        },
    },
}

# HubSpot signs with the app's client secret: the integration's own webhook secret wins, then
# its own OAuth app's client secret, then the platform's OAuth app.
WEBHOOKS = WebhookSpec(
    schemes=("hubspot",),
    media_types=frozenset({JSON}),
    parse=parse,
    entity_for=entity_for,
    secret_kinds=("webhook_secret", "client_secret"),
    fallback_secret_settings=("HUBSPOT_CLIENT_SECRET",),
    apply=APPLY_RULES,
    openapi=OPENAPI,
    stored_headers=("x-hubspot-timeout-millis",),
)
