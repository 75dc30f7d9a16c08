"""GitHub deliveries: one event per request, named by X-GitHub-Event, idempotent by
X-GitHub-Delivery (the same GUID on a manual redelivery). JSON or form-encoded `payload=`."""

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


def parse(request: SignedRequest, media_type: str) -> list[ParsedEvent]:
    event = _header(request, "X-GitHub-Event")
    delivery = _header(request, "X-GitHub-Delivery")
    payload = request.body
    if media_type == "application/x-www-form-urlencoded":
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
