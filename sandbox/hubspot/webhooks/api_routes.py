"""HubSpot's webhooks management API: `/webhooks/v3/{appId}/settings` and `/subscriptions`.

Authenticated with the developer API key in `?hapikey=`, as HubSpot does. Reads and writes the
same settings as `/_sandbox/webhooks`, so a client can configure the sandbox the way it would
configure a real app. Shapes follow HubSpot's published Webhooks v3 OpenAPI description.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from pydantic import ValidationError

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.responses import ApiError, json_response, not_found
from sandbox.hubspot.routes.common import json_object, state
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.webhooks.settings import Subscription, WebhookSettings

bp = Blueprint("hubspot_webhooks_api", __name__, url_prefix="/webhooks/v3/<app_id>")

MISSING_KEY = (
    "Authentication credentials not found. This API supports both API Key and OAuth 2.0 "
    "authentication and you can find more details at "
    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
INVALID_KEY = (
    "The API key provided is invalid. View or manage your API key here: "
    "https://app.hubspot.com/l/api-key/"
)


@bp.before_request
def _authenticate() -> None:
    st = state()
    key = request.args.get("hapikey")
    if not key:
        raise ApiError(401, MISSING_KEY, "INVALID_AUTHENTICATION")
    if key != st.config.webhooks.developer_api_key:
        raise ApiError(401, INVALID_KEY, "INVALID_AUTHENTICATION")
    app_id = (request.view_args or {}).get("app_id", "")
    if str(app_id) != str(st.config.app_id):
        raise not_found(f"App {app_id} not found")


def _save(st: SandboxState, data: dict[str, Any]) -> WebhookSettings:
    try:
        settings = WebhookSettings.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(e["msg"] for e in exc.errors())
        raise ApiError(400, f"Invalid input JSON: {detail}", "VALIDATION_ERROR") from exc
    st.set_webhook_settings(settings)
    return settings


def _settings_json(st: SandboxState) -> dict[str, Any]:
    settings = st.config.webhooks
    times = st.webhooks.settings_times
    if settings.target_url is None or times is None:
        raise not_found(f"No webhook settings found for app {st.config.app_id}")
    return {
        "targetUrl": settings.target_url,
        "throttling": {
            "maxConcurrentRequests": settings.max_concurrent_requests,
            "period": settings.throttling_period,
        },
        "createdAt": iso_ms(times[0]),
        "updatedAt": iso_ms(times[1]),
    }


@bp.route("/settings", methods=["GET", "PUT", "DELETE"])
def settings(app_id: str) -> Response:
    st = state()
    if request.method == "GET":
        return json_response(_settings_json(st))
    with st.lock:
        data = st.config.webhooks.model_dump()
        if request.method == "DELETE":
            data["target_url"] = None
            _save(st, data)
            return Response(status=204)
        body = json_object()
        throttling = body.get("throttling")
        if not body.get("targetUrl") or not isinstance(throttling, dict):
            raise ApiError(400, "Invalid input JSON: targetUrl and throttling are required")
        data["target_url"] = body["targetUrl"]
        data["max_concurrent_requests"] = throttling.get("maxConcurrentRequests")
        data["throttling_period"] = throttling.get("period", "SECONDLY")
        _save(st, data)
        return json_response(_settings_json(st))


def _subscription_json(st: SandboxState, sub: Subscription) -> dict[str, Any]:
    assert sub.id is not None
    created, updated = st.webhooks.subscription_times.get(sub.id, (0, 0))
    out: dict[str, Any] = {"id": str(sub.id), "eventType": sub.eventType}
    if sub.propertyName is not None:
        out["propertyName"] = sub.propertyName
    if sub.objectTypeId is not None:
        out["objectTypeId"] = sub.objectTypeId
    out.update(active=sub.active, createdAt=iso_ms(created), updatedAt=iso_ms(updated))
    return out


def _find(st: SandboxState, subscription_id: str) -> Subscription:
    for sub in st.config.webhooks.subscriptions:
        if str(sub.id) == subscription_id:
            return sub
    raise not_found(f"Subscription {subscription_id} not found")


def _with_subscriptions(st: SandboxState, subs: list[Subscription]) -> None:
    data = st.config.webhooks.model_dump()
    data["subscriptions"] = [s.model_dump() for s in subs]
    _save(st, data)


@bp.route("/subscriptions", methods=["GET", "POST"])
def subscriptions(app_id: str) -> Response:
    st = state()
    if request.method == "GET":
        subs = st.config.webhooks.subscriptions
        return json_response({"results": [_subscription_json(st, s) for s in subs]})
    body = json_object()
    if not body.get("eventType"):
        raise ApiError(400, "Invalid input JSON: eventType is required")
    with st.lock:
        try:
            new = Subscription(
                eventType=str(body["eventType"]),
                propertyName=body.get("propertyName"),
                objectTypeId=body.get("objectTypeId"),
                active=bool(body.get("active", False)),  # HubSpot: defaults to false
            )
        except ValidationError as exc:
            detail = "; ".join(e["msg"] for e in exc.errors())
            raise ApiError(400, f"Invalid input JSON: {detail}") from exc
        existing = st.config.webhooks.subscriptions
        if any(s.key() == new.key() for s in existing):
            raise ApiError(409, f"A subscription for {new.eventType} already exists", "CONFLICT")
        new.id = max((s.id or 0 for s in existing), default=0) + 1
        _with_subscriptions(st, [*existing, new])
        return json_response(_subscription_json(st, _find(st, str(new.id))), 201)


@bp.route("/subscriptions/<subscription_id>", methods=["GET", "PATCH", "DELETE"])
def subscription(app_id: str, subscription_id: str) -> Response:
    st = state()
    with st.lock:
        sub = _find(st, subscription_id)
        if request.method == "GET":
            return json_response(_subscription_json(st, sub))
        others = [s for s in st.config.webhooks.subscriptions if s.id != sub.id]
        if request.method == "DELETE":
            _with_subscriptions(st, others)
            return Response(status=204)
        body = json_object()
        if not isinstance(body.get("active"), bool):
            raise ApiError(400, "Invalid input JSON: active must be a boolean")
        updated = sub.model_copy(update={"active": body["active"]})
        _with_subscriptions(
            st, [updated if s.id == sub.id else s for s in st.config.webhooks.subscriptions]
        )
        return json_response(_subscription_json(st, _find(st, subscription_id)))


@bp.post("/subscriptions/batch/update")
def batch_update(app_id: str) -> Response:
    st = state()
    body = json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "Invalid input JSON: `inputs` is required")
    started = iso_ms(st.now_ms())
    with st.lock:
        subs = {str(s.id): s for s in st.config.webhooks.subscriptions}
        changed: list[str] = []
        missing: list[str] = []
        for item in inputs:
            sid = str((item or {}).get("id"))
            if sid not in subs or not isinstance((item or {}).get("active"), bool):
                missing.append(sid)
                continue
            subs[sid] = subs[sid].model_copy(update={"active": item["active"]})
            changed.append(sid)
        _with_subscriptions(st, list(subs.values()))
        results = [_subscription_json(st, _find(st, sid)) for sid in changed]
    out: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(st.now_ms()),
    }
    if missing:
        out["numErrors"] = len(missing)
        out["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Subscription {sid} not found or input invalid",
                "context": {"ids": [sid]},
                "errors": [],
                "links": {},
            }
            for sid in missing
        ]
    return json_response(out, 207 if missing else 200)
