"""Salesforce's webhook spec: events relayed from a Flow or Apex, a JSON object or an array.

Parsing never checks signatures (the `salesforce` and `standard-webhooks` schemes in
`webhook_receiver/verification/` do), never stores, never calls Salesforce.

Each item is a Change Data Capture event, bare (`{"ChangeEventHeader": {...}, ...fields}`) or
in its CometD envelope (`{"channel": ..., "data": {"payload": {...}, "event": {"replayId": N}}}`),
or a neutral `{"type": ..., "data": {...}}` event. CDC events are typed `<entityName>.<changeType>`
(e.g. `Account.UPDATE`), concern `entityName` and, when the header names exactly one record,
that record id. Delivery id: the replay id, else transactionKey:sequenceNumber, else the
request's id header (with `#<n>` per item of an array), else the digest of the item.
"""

from __future__ import annotations

from typing import Any

from core.events import (
    ParsedEvent,
    PayloadError,
    SignedRequest,
    body_digest,
    dump_json,
    load_json,
    scalar_id,
)
from sources.common import neutral_events
from sources.provider import WebhookSpec

JSON = "application/json"
ID_HEADERS = ("X-Salesforce-Delivery-ID", "webhook-id")


def parse(request: SignedRequest, media_type: str, scheme: str) -> list[ParsedEvent]:
    """A verified delivery -> one event per item, or PayloadError."""
    body = load_json(request.body)
    if isinstance(body, dict):
        items, single = [body], True
    elif isinstance(body, list) and body:
        items, single = body, False
    else:
        raise PayloadError(
            "invalid_payload", "a Salesforce delivery is a JSON object or a non-empty array"
        )
    request_id = next(
        (v.strip() for h in ID_HEADERS if (v := request.header(h)) and v.strip()), None
    )
    events = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError("invalid_payload", f"item #{position} is not a JSON object")
        payload = request.body if single else dump_json(item)
        fallback = request_id if single or request_id is None else f"{request_id}#{position}"
        events.append(_event(position, item, payload, fallback))
    return events


def _event(position: int, item: dict[str, Any], payload: bytes, request_id: str | None):
    data = item.get("data")
    replay_id = None
    if isinstance(data, dict) and isinstance(data.get("payload"), dict):  # CometD envelope
        event_meta = data.get("event")
        replay_id = scalar_id(event_meta.get("replayId")) if isinstance(event_meta, dict) else None
        change = data["payload"]
    else:
        change = item
    header = change.get("ChangeEventHeader")
    if isinstance(header, dict):
        entity = header.get("entityName")
        change_type = header.get("changeType")
        if not isinstance(entity, str) or not entity or not isinstance(change_type, str):
            raise PayloadError(
                "invalid_payload",
                f"item #{position}: ChangeEventHeader needs entityName and changeType",
            )
        records = header.get("recordIds")
        object_id = (
            scalar_id(records[0]) if isinstance(records, list) and len(records) == 1 else None
        )
        tx, seq = scalar_id(header.get("transactionKey")), scalar_id(header.get("sequenceNumber"))
        delivery_id = replay_id or (f"{tx}:{seq}" if tx and seq else None)
        event_type, object_type = f"{entity}.{change_type}", entity
    else:
        event_type, object_type, object_id = neutral_events.describe(change)
        if event_type == "unknown":
            raise PayloadError(
                "invalid_payload",
                f"item #{position}: neither a ChangeEventHeader nor a type names the event",
            )
        delivery_id = replay_id
    delivery_id = delivery_id or request_id or body_digest(payload)
    return ParsedEvent(delivery_id, event_type, object_type, object_id, payload)


def entity_for(object_type: str | None) -> str | None:
    """The entity an event names: its sObject (`Account`) or neutral object type, as stored."""
    return object_type or None


OBJECT = {"type": "object", "additionalProperties": True}
OPENAPI = {
    "headers": [
        {"name": "X-Salesforce-Delivery-ID", "description": "The relay's delivery id"},
    ],
    "request_body": {
        JSON: {"schema": {"oneOf": [OBJECT, {"type": "array", "minItems": 1, "items": OBJECT}]}}
    },
}

WEBHOOKS = WebhookSpec(
    schemes=("salesforce", "standard-webhooks"),
    media_types=frozenset({JSON}),
    parse=parse,
    entity_for=entity_for,
    openapi=OPENAPI,
    stored_headers=("x-salesforce-delivery-id",),
)
