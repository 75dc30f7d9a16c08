"""Admin interface of the webhook sender under `/_sandbox/webhooks` (no auth, like all admin).

Settings (merge with POST, replace with PUT, back to defaults with DELETE), a flush that waits
until everything queued is delivered, the delivery log, and webhook fault injection.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from pydantic import ValidationError

from sandbox.hubspot.responses import ApiError, json_response
from sandbox.hubspot.routes.common import json_object, state
from sandbox.hubspot.webhooks.deliveries import STATUSES
from sandbox.hubspot.webhooks.faults import WebhookFaultConfig
from sandbox.hubspot.webhooks.settings import WebhookSettings

bp = Blueprint("hubspot_webhooks_admin", __name__, url_prefix="/_sandbox/webhooks")


def _invalid(exc: ValidationError | ValueError, what: str) -> ApiError:
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
    else:
        detail = str(exc)
    return ApiError(400, f"invalid {what}: {detail}", "VALIDATION_ERROR")


def _view() -> dict[str, Any]:
    st = state()
    return {
        "settings": st.config.webhooks.model_dump(),
        "signing_secret": st.webhooks.secret,
        "status": st.webhooks.dispatcher.status(),
    }


def _merged(current: WebhookSettings, body: dict[str, Any]) -> dict[str, Any]:
    data = current.model_dump()
    if isinstance(body.get("retry"), dict):
        body = {**body, "retry": {**data["retry"], **body["retry"]}}
    data.update(body)
    return data


@bp.route("", methods=["GET", "POST", "PUT", "DELETE"])
def settings() -> Response:
    st = state()
    if request.method != "GET":
        body = json_object() if request.method != "DELETE" else {}
        data = _merged(st.config.webhooks, body) if request.method == "POST" else body
        try:
            new = WebhookSettings.model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc, "webhook settings") from exc
        st.set_webhook_settings(new)
    return json_response(_view())


@bp.post("/flush")
def flush() -> Response:
    body = json_object()
    try:
        timeout_s = float(body.get("timeout_s", 10))
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "timeout_s must be a number", "VALIDATION_ERROR") from exc
    if not 0 <= timeout_s <= 600:
        raise ApiError(400, "timeout_s must be between 0 and 600", "VALIDATION_ERROR")
    result = state().webhooks.dispatcher.flush(timeout_s, bool(body.get("expedite_retries", True)))
    return json_response(result, 200 if result["drained"] else 504)


@bp.route("/deliveries", methods=["GET", "DELETE"])
def deliveries() -> Response:
    dispatcher = state().webhooks.dispatcher
    if request.method == "DELETE":
        return json_response({"cleared": dispatcher.clear_finished()})
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {list(STATUSES)}", "VALIDATION_ERROR")
    try:
        since = int(request.args.get("since", 0))
        limit = int(request.args.get("limit", 1000))
    except ValueError as exc:
        raise ApiError(400, "since and limit must be integers", "VALIDATION_ERROR") from exc
    include_events = request.args.get("include_events", "false").lower() == "true"
    include_body = request.args.get("include_body", "false").lower() == "true"
    records = dispatcher.deliveries(
        status, since, max(1, min(limit, 10_000)), include_events, include_body
    )
    return json_response({"deliveries": records, "status": dispatcher.status()})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    injector = state().webhooks.faults
    if request.method == "DELETE":
        injector.clear()
    elif request.method == "POST":
        try:
            injector.configure(WebhookFaultConfig.model_validate(json_object()))
        except ValidationError as exc:
            raise _invalid(exc, "webhook faults") from exc
    return json_response(injector.snapshot())
