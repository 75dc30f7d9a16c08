"""Events in a provider-neutral JSON shape, as sent by relays, WP Webhooks and our own plugin.

Shared by the providers whose deliveries may carry such events (their `webhooks.py` parsers).
Pure functions: no I/O, no provider branch.

The event type is the body's `type` (the Standard Webhooks payload shape `{"type": "post.updated",
"data": {...}}`), else `trigger` or `action`; the object is `data` (or the body itself), its id
`id` or `post_id`, its entity `object_type`, `post_type` or the type's prefix, in the plural the
REST API uses. A body that names no event type is stored as `unknown` (routes may ignore it).
"""

from __future__ import annotations

from typing import Any

from core.events import scalar_id

PLURALS = {
    "post": "posts",
    "page": "pages",
    "attachment": "media",
    "media": "media",
    "user": "users",
    "comment": "comments",
    "category": "categories",
    "tag": "tags",
    "order": "orders",
    "product": "products",
    "customer": "customers",
    "coupon": "coupons",
}


def plural(name: str | None) -> str | None:
    if not name:
        return None
    return PLURALS.get(name, name)


def describe(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(event_type, object_type, object_id) of a neutral JSON event."""
    event_type = next(
        (
            body[k]
            for k in ("type", "trigger", "action")
            if isinstance(body.get(k), str) and body[k]
        ),
        "unknown",
    )
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    object_id = scalar_id(data.get("id")) or scalar_id(data.get("post_id"))
    named = data.get("object_type") or data.get("post_type") or body.get("object_type")
    if not isinstance(named, str):
        named = event_type.split(".", 1)[0] if "." in event_type else None
    return event_type, plural(named), object_id
