"""WordPress deliveries: WooCommerce webhooks (and their ping), WP Webhooks triggers and our own
plugin's notifications. One event per request."""

from __future__ import annotations

from core.events import (
    ParsedEvent,
    PayloadError,
    body_digest,
    dump_json,
    load_json,
    require_object,
    scalar_id,
)
from webhook_receiver.parsing import generic
from webhook_receiver.verification import WOOCOMMERCE_PING, SignedRequest, woocommerce

# Delivery id headers by scheme; without one the body digest is the id.
DELIVERY_HEADERS = {
    "woocommerce-sha256": "X-WC-Webhook-Delivery-ID",
    "wordpress-sha256": "X-WordPress-Delivery-ID",
    "standard-webhooks-v1": "webhook-id",
}


def parse(request: SignedRequest, media_type: str, scheme: str) -> list[ParsedEvent]:
    if scheme == WOOCOMMERCE_PING:
        webhook_id = woocommerce.ping_webhook_id(request)
        payload = dump_json({"webhook_id": webhook_id})
        return [ParsedEvent(body_digest(request.body), "ping", None, None, payload)]
    if media_type != "application/json":
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
        object_type = None if resource == "action" else generic.plural(resource)
        object_id = None if object_type is None else scalar_id(body.get("id"))
        return [ParsedEvent(delivery_id, topic, object_type, object_id, request.body)]
    event_type, object_type, object_id = generic.describe(body)
    return [ParsedEvent(delivery_id, event_type, object_type, object_id, request.body)]


def _delivery_id(request: SignedRequest, scheme: str) -> str:
    header = DELIVERY_HEADERS.get(scheme)
    value = (request.header(header) or "").strip() if header else ""
    return value or body_digest(request.body)
