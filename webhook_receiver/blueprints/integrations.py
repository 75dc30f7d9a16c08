"""The integrations API: create, list, get, delete, authorization URL; API key required.

Responses never carry a secret: secret config fields are vaulted by the registry on create and
only their names are listed (`stored_secrets`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from core.errors import NotFoundError
from core.events import PayloadError, load_json
from pipelines.registry import OAUTH_STATE_TTL_S
from webhook_receiver.blueprints.presenters import integration_json, registry_errors
from webhook_receiver.bodies import read_body
from webhook_receiver.responses import Refusal, json_response
from webhook_receiver.services import services

bp = Blueprint("integrations", __name__, url_prefix="/api/v1/integrations")

MAX_API_BODY = 65_536
CREATE_FIELDS = frozenset({"type", "name", "organization_id", "user_id", "id", "config"})


@bp.before_request
def authenticate() -> None:
    g.actor = services().api_guard.authenticate(request)


@bp.post("")
def create() -> Response:
    body = _json_object()
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise Refusal(400, "validation_error", f"unknown fields: {', '.join(unknown)}")
    for name in ("type", "name", "organization_id"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise Refusal(400, "validation_error", f"`{name}` is required (a non-empty string)")
    for name in ("user_id", "id"):
        if name in body and not isinstance(body[name], str):
            raise Refusal(400, "validation_error", f"`{name}` must be a string")
    config = body.get("config", {})
    if not isinstance(config, dict):
        raise Refusal(400, "validation_error", "`config` must be a JSON object")
    svc = services()
    if body.get("id"):
        try:
            svc.registry.get(body["id"])
        except NotFoundError:
            pass
        else:
            raise Refusal(409, "conflict", f"integration {body['id']} already exists")
    with registry_errors():
        integration = svc.registry.create(
            organization_id=body["organization_id"],
            user_id=body.get("user_id") or g.actor,
            type=body["type"],
            name=body["name"],
            config=config,
            integration_id=body.get("id") or None,
            actor=g.actor,
        )
    svc.directory.invalidate(integration.id)
    return json_response(integration_json(integration), 201)


@bp.get("")
def list_integrations() -> Response:
    organization_id = request.args.get("organization_id") or None
    with registry_errors():
        found = services().registry.list(organization_id)
    return json_response({"integrations": [integration_json(i) for i in found]})


@bp.get("/<integration_id>")
def get(integration_id: str) -> Response:
    with registry_errors():
        integration = services().registry.get(integration_id)
    return json_response(integration_json(integration))


@bp.delete("/<integration_id>")
def delete(integration_id: str) -> Response:
    svc = services()
    with registry_errors():
        svc.registry.delete(integration_id, actor=g.actor)
    svc.directory.invalidate(integration_id)
    return Response(status=204)


@bp.get("/<integration_id>/authorize-url")
def authorize_url(integration_id: str) -> Response:
    svc = services()
    redirect_uri = request.args.get("redirect_uri") or (
        svc.settings.WEBHOOK_BASE_URL.rstrip("/") + "/api/v1/oauth/callback"
    )
    scopes = request.args.get("scopes")
    with registry_errors():
        url = svc.registry.authorization_url(
            integration_id,
            redirect_uri,
            actor=g.actor,
            scopes=scopes.split() if scopes else None,
        )
    return json_response(
        {"authorization_url": url, "redirect_uri": redirect_uri, "expires_in": OAUTH_STATE_TTL_S}
    )


def _json_object() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise Refusal(415, "unsupported_media_type", "send application/json")
    try:
        body = load_json(read_body(request, MAX_API_BODY))
    except PayloadError as exc:
        raise Refusal(400, exc.code, exc.message) from None
    if not isinstance(body, dict):
        raise Refusal(400, "validation_error", "the body must be a JSON object")
    return body
