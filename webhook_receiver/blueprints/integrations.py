"""The integrations API: create, list, get, delete, authorization URL; API key required.

The key is checked before anything is looked up (an anonymous caller gets the same 401 for any
id). A key bound to an organisation (`API_KEYS=ORG:KEY`) sees and changes only that
organisation's integrations: another organisation's id answers exactly as a missing one (404),
and naming another organisation in a create or a list filter is 403. Admin keys (`*:KEY`) see
every organisation.

Responses never carry a secret: secret config fields are vaulted by the registry on create and
only their names are listed (`stored_secrets`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from core.errors import NotFoundError
from core.events import PayloadError, load_json
from pipelines.models import Integration
from pipelines.registry import OAUTH_STATE_TTL_S
from webhook_receiver.api_keys import Principal
from webhook_receiver.blueprints.presenters import integration_json, registry_errors
from webhook_receiver.bodies import read_body
from webhook_receiver.responses import Refusal, json_response
from webhook_receiver.services import services

bp = Blueprint("integrations", __name__, url_prefix="/api/v1/integrations")

MAX_API_BODY = 65_536
CREATE_FIELDS = frozenset({"type", "name", "organization_id", "user_id", "id", "config"})


@bp.before_request
def authenticate() -> None:
    principal = services().api_guard.authenticate(request)
    g.principal = principal
    g.actor = principal.actor


def _principal() -> Principal:
    return g.principal


def _visible(integration_id: str) -> Integration:
    """The integration if this key may act on it; otherwise the registry's own 404."""
    with registry_errors():
        return services().registry.get(integration_id, _principal().organization_id)


def _own_organization(organization_id: str | None) -> str | None:
    """The organisation a request may name: a bound key's own (the default when none is
    named); another one is 403. Admin keys pass what was given."""
    bound = _principal().organization_id
    if bound is None or organization_id is None:
        return organization_id or bound
    if organization_id != bound:
        raise Refusal(
            403,
            "forbidden",
            f"this API key acts for organization {bound!r} only",
        )
    return bound


@bp.post("")
def create() -> Response:
    body = _json_object()
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise Refusal(400, "validation_error", f"unknown fields: {', '.join(unknown)}")
    if "organization_id" in body and not isinstance(body["organization_id"], str):
        raise Refusal(400, "validation_error", "`organization_id` must be a string")
    organization_id = _own_organization(body.get("organization_id") or None)
    body["organization_id"] = organization_id
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
    organization_id = _own_organization(request.args.get("organization_id") or None)
    with registry_errors():
        found = services().registry.list(organization_id)
    return json_response({"integrations": [integration_json(i) for i in found]})


@bp.get("/<integration_id>")
def get(integration_id: str) -> Response:
    return json_response(integration_json(_visible(integration_id)))


@bp.delete("/<integration_id>")
def delete(integration_id: str) -> Response:
    svc = services()
    _visible(integration_id)
    with registry_errors():
        svc.registry.delete(integration_id, actor=g.actor)
    svc.directory.invalidate(integration_id)
    return Response(status=204)


@bp.get("/<integration_id>/authorize-url")
def authorize_url(integration_id: str) -> Response:
    svc = services()
    _visible(integration_id)
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
