"""Admin interface of a sandbox's webhook sender under `/_sandbox/webhooks` (no auth, like all
admin), the same for every provider.

Settings (merge with POST, replace with PUT, back to defaults with DELETE), a flush that waits
until everything queued is delivered, the delivery log, and webhook fault injection. The
provider's sandbox supplies a `WebhookAdminHost` (its settings model, how to store settings, the
signing secret, the dispatcher and the fault injector); refusals are `SandboxRequestError`s,
which the provider's app renders in its own error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Response, request
from pydantic import ValidationError

from sandbox.common.http import SandboxRequestError, json_object, json_response
from sandbox.common.webhooks.deliveries import STATUSES
from sandbox.common.webhooks.dispatcher import WebhookDispatcher
from sandbox.common.webhooks.faults import WebhookFaultConfig, WebhookFaultInjector
from sandbox.common.webhooks.settings import SenderSettings


class WebhookAdminHost(Protocol):
    """What the admin routes need from one sandbox app's webhook side."""

    @property
    def settings_model(self) -> type[SenderSettings]: ...

    @property
    def webhook_settings(self) -> SenderSettings: ...

    @property
    def signing_secret(self) -> str: ...

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    @property
    def webhook_faults(self) -> WebhookFaultInjector: ...

    def set_webhook_settings(self, settings: Any) -> None: ...


def invalid(exc: ValidationError | ValueError, what: str) -> SandboxRequestError:
    """A 400 naming every field a validation error found."""
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
    else:
        detail = str(exc)
    return SandboxRequestError(400, f"invalid {what}: {detail}")


def _merged(current: SenderSettings, body: dict[str, Any]) -> dict[str, Any]:
    data = current.model_dump()
    if isinstance(body.get("retry"), dict):
        body = {**body, "retry": {**data["retry"], **body["retry"]}}
    data.update(body)
    return data


def webhook_admin_blueprint(name: str, host: Callable[[], WebhookAdminHost]) -> Blueprint:
    """The `/_sandbox/webhooks` routes; `host()` gives the current app's webhook side."""
    bp = Blueprint(name, __name__, url_prefix="/_sandbox/webhooks")

    def view() -> dict[str, Any]:
        h = host()
        return {
            "settings": h.webhook_settings.model_dump(),
            "signing_secret": h.signing_secret,
            "status": h.dispatcher.status(),
        }

    @bp.route("", methods=["GET", "POST", "PUT", "DELETE"])
    def settings() -> Response:
        h = host()
        if request.method != "GET":
            body = json_object() if request.method != "DELETE" else {}
            data = _merged(h.webhook_settings, body) if request.method == "POST" else body
            try:
                new = h.settings_model.model_validate(data)
            except ValidationError as exc:
                raise invalid(exc, "webhook settings") from exc
            h.set_webhook_settings(new)
        return json_response(view())

    @bp.post("/flush")
    def flush() -> Response:
        body = json_object()
        try:
            timeout_s = float(body.get("timeout_s", 10))
        except (TypeError, ValueError) as exc:
            raise SandboxRequestError(400, "timeout_s must be a number") from exc
        if not 0 <= timeout_s <= 600:
            raise SandboxRequestError(400, "timeout_s must be between 0 and 600")
        expedite = bool(body.get("expedite_retries", True))
        result = host().dispatcher.flush(timeout_s, expedite)
        return json_response(result, 200 if result["drained"] else 504)

    @bp.route("/deliveries", methods=["GET", "DELETE"])
    def deliveries() -> Response:
        dispatcher = host().dispatcher
        if request.method == "DELETE":
            return json_response({"cleared": dispatcher.clear_finished()})
        status = request.args.get("status")
        if status is not None and status not in STATUSES:
            raise SandboxRequestError(400, f"status must be one of {list(STATUSES)}")
        try:
            since = int(request.args.get("since", 0))
            limit = int(request.args.get("limit", 1000))
        except ValueError as exc:
            raise SandboxRequestError(400, "since and limit must be integers") from exc
        include_events = request.args.get("include_events", "false").lower() == "true"
        include_body = request.args.get("include_body", "false").lower() == "true"
        records = dispatcher.deliveries(
            status, since, max(1, min(limit, 10_000)), include_events, include_body
        )
        return json_response({"deliveries": records, "status": dispatcher.status()})

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        injector = host().webhook_faults
        if request.method == "DELETE":
            injector.clear()
        elif request.method == "POST":
            try:
                injector.configure(WebhookFaultConfig.model_validate(json_object()))
            except ValidationError as exc:
                raise invalid(exc, "webhook faults") from exc
        return json_response(injector.snapshot())

    return bp
