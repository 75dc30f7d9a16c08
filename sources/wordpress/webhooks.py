"""WordPress's webhook spec: WooCommerce webhooks (and their ping), WP Webhooks triggers and our
own plugin's notifications, one event per request; the entity an event names; OpenAPI facts.

Parsing never checks signatures (the schemes named in `WEBHOOKS` do, in
`webhook_receiver/verification/`), never stores, never calls the site.
"""

from __future__ import annotations

from core.events import (
    ParsedEvent,
    PayloadError,
    SignedRequest,
    body_digest,
    dump_json,
    load_json,
    require_object,
    scalar_id,
)
from sources.common import neutral_events
from sources.provider import WebhookSpec

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# The label the `woocommerce-ping` scheme verifies an unsigned ping with.
WOOCOMMERCE_PING = "woocommerce-ping"

# Delivery id headers by scheme; without one the body digest is the id.
DELIVERY_HEADERS = {
    "woocommerce-sha256": "X-WC-Webhook-Delivery-ID",
    "wordpress-sha256": "X-WordPress-Delivery-ID",
    "standard-webhooks-v1": "webhook-id",
}


def parse(request: SignedRequest, media_type: str, scheme: str) -> list[ParsedEvent]:
    if scheme == WOOCOMMERCE_PING:
        # verification admitted exactly `webhook_id=<digits>` as the ping
        webhook_id = request.body.partition(b"=")[2].decode()
        payload = dump_json({"webhook_id": webhook_id})
        return [ParsedEvent(body_digest(request.body), "ping", None, None, payload)]
    if media_type != JSON:
        raise PayloadError(
            "unsupported_media_type",
            "WordPress deliveries must be application/json (form bodies are only the "
            "WooCommerce ping)",
            status=415,
        )
    body = require_object(load_json(request.body), "a WordPress payload")
    delivery_id = _delivery_id(request, scheme)
    if scheme == "woocommerce-sha256":
        topic = (request.header("X-WC-Webhook-Topic") or "").strip()
        if not topic:
            raise PayloadError("missing_header", "WooCommerce deliveries carry X-WC-Webhook-Topic")
        resource = (request.header("X-WC-Webhook-Resource") or topic.split(".", 1)[0]).strip()
        object_type = None if resource == "action" else neutral_events.plural(resource)
        object_id = None if object_type is None else scalar_id(body.get("id"))
        return [ParsedEvent(delivery_id, topic, object_type, object_id, request.body)]
    event_type, object_type, object_id = neutral_events.describe(body)
    return [ParsedEvent(delivery_id, event_type, object_type, object_id, request.body)]


def _delivery_id(request: SignedRequest, scheme: str) -> str:
    header = DELIVERY_HEADERS.get(scheme)
    value = (request.header(header) or "").strip() if header else ""
    return value or body_digest(request.body)


def entity_for(object_type: str | None) -> str | None:
    """The entity an event names, in the plural the REST API uses (`order` -> `orders`)."""
    return neutral_events.plural(object_type)


OPENAPI = {
    "headers": [
        {"name": "X-WC-Webhook-Topic", "description": "WooCommerce topic, e.g. order.updated"},
        {"name": "X-WC-Webhook-Resource", "description": "WooCommerce resource, e.g. order"},
        {"name": "X-WC-Webhook-Delivery-ID", "description": "WooCommerce delivery id"},
        {"name": "X-WordPress-Delivery-ID", "description": "Our plugin's delivery id"},
    ],
    "request_body": {
        JSON: {"schema": {"type": "object", "additionalProperties": True}},
        FORM: {
            "schema": {
                "type": "string",
                "pattern": "^webhook_id=[0-9]{1,20}$",
                "description": "WooCommerce's unsigned ping, answered 200",
            }
        },
    },
}

# The ping first (it is unsigned by design); "" admits the ping sent without a content type.
WEBHOOKS = WebhookSpec(
    schemes=("woocommerce-ping", "woocommerce", "wp-webhooks", "wordpress", "standard-webhooks"),
    media_types=frozenset({JSON, FORM, ""}),
    parse=parse,
    entity_for=entity_for,
    openapi=OPENAPI,
    stored_headers=(
        "x-wc-webhook-source",
        "x-wc-webhook-topic",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-id",
        "x-wc-webhook-delivery-id",
        "x-wp-webhook-source",
        "x-wordpress-delivery-id",
    ),
)
