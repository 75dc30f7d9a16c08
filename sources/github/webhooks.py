"""GitHub's webhook spec: deliveries -> events, the entity an event names, the OpenAPI facts.

One event per request, named by X-GitHub-Event, idempotent by X-GitHub-Delivery (the same GUID
on a manual redelivery). JSON or form-encoded `payload=`. Parsing never checks signatures (the
`github` scheme in `webhook_receiver/verification/` does), never stores, never calls GitHub.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from core.events import (
    ParsedEvent,
    PayloadError,
    SignedRequest,
    load_json,
    require_object,
    scalar_id,
)
from sources.provider import WebhookSpec

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# event -> (entity name of our GitHub source, path of the object in the payload, id field)
OBJECTS: dict[str, tuple[str, str, str]] = {
    "issues": ("issues", "issue", "id"),
    "issue_comment": ("issue_comments", "comment", "id"),
    "pull_request": ("pull_requests", "pull_request", "id"),
    "pull_request_review": ("pull_requests", "pull_request", "id"),
    "pull_request_review_comment": ("pull_requests", "pull_request", "id"),
    "push": ("commits", "", "after"),
    "release": ("releases", "release", "id"),
    "workflow_run": ("workflow_runs", "workflow_run", "id"),
    "repository": ("repositories", "repository", "id"),
    "member": ("members", "member", "id"),
    "team": ("teams", "team", "id"),
}


def parse(request: SignedRequest, media_type: str, scheme: str) -> list[ParsedEvent]:
    """A verified delivery -> its one event, or PayloadError."""
    event = _header(request, "X-GitHub-Event")
    delivery = _header(request, "X-GitHub-Delivery")
    payload = request.body
    if media_type == FORM:
        try:
            fields = parse_qs(request.body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            fields = {}
        if len(fields.get("payload", [])) != 1:
            raise PayloadError("invalid_payload", "a form-encoded delivery needs one payload field")
        payload = fields["payload"][0].encode()
    body = require_object(load_json(payload), "a GitHub payload")
    object_type, object_id = _object(event, body)
    return [ParsedEvent(delivery, event, object_type, object_id, payload)]


def _header(request: SignedRequest, name: str) -> str:
    value = (request.header(name) or "").strip()
    if not value:
        raise PayloadError("missing_header", f"GitHub deliveries carry {name}; it is missing")
    return value


def _object(event: str, body: dict[str, Any]) -> tuple[str | None, str | None]:
    spec = OBJECTS.get(event)
    if spec is None:
        return None, None
    object_type, path, field = spec
    holder = body.get(path) if path else body
    return object_type, scalar_id(holder.get(field)) if isinstance(holder, dict) else None


ENTITIES = frozenset(spec[0] for spec in OBJECTS.values())


def entity_for(object_type: str | None) -> str | None:
    """The entity an event's object type names (`parse` already spells entity names)."""
    return object_type if object_type in ENTITIES else None


OPENAPI = {
    "headers": [
        {
            "name": "X-GitHub-Event",
            "description": "Event name, e.g. push, issues, ping",
            "required": True,
        },
        {
            "name": "X-GitHub-Delivery",
            "description": "Delivery GUID (the idempotency key)",
            "required": True,
        },
    ],
    "request_body": {
        JSON: {"schema": {"type": "object", "additionalProperties": True}},
        FORM: {
            "schema": {
                "type": "object",
                "required": ["payload"],
                "properties": {"payload": {"type": "string", "description": "The JSON payload"}},
            }
        },
    },
}

WEBHOOKS = WebhookSpec(
    schemes=("github",),
    media_types=frozenset({JSON, FORM}),
    parse=parse,
    entity_for=entity_for,
    openapi=OPENAPI,
    stored_headers=(
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
        "x-hub-signature",
    ),
)
