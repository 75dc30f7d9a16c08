"""The receiver's Flask application factory (Flask's own pattern: no module-level app here).

`create_app(settings)` wires the registry, the inbox, the cached integration directory, the
metrics and the blueprints; tests pass their own settings, registry or inbox. `wsgi.py` holds
the module-level app gunicorn imports.
"""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from core.logging import configure_logging, service_labels
from core.settings import Settings, get_settings
from inbox import Inbox, InboxUnavailable
from pipelines.registry import IntegrationRegistry
from webhook_receiver.api_keys import ApiKeyGuard
from webhook_receiver.blueprints import integrations, oauth, operations, webhooks
from webhook_receiver.directory import IntegrationDirectory
from webhook_receiver.metrics import ReceiverMetrics
from webhook_receiver.ratelimit import KeyedRateLimiter
from webhook_receiver.receiver import DeliveryReceiver
from webhook_receiver.responses import Refusal, error_response, refusal_response
from webhook_receiver.services import EXTENSION, ReceiverServices

log = logging.getLogger(__name__)

CALLBACKS_PER_MINUTE = 30
DIRECTORY_TTL_S = 5.0


def create_app(
    settings: Settings | None = None,
    *,
    registry: IntegrationRegistry | None = None,
    inbox: Inbox | None = None,
) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)
    registry = registry or IntegrationRegistry.from_settings(settings)
    inbox = inbox or Inbox.from_settings(settings)
    try:
        inbox.create_schema()
    except InboxUnavailable as exc:
        # Serve anyway: deliveries get 503 (providers retry) and /health says why.
        log.error("webhook inbox unavailable at start: %s", exc)
    directory = IntegrationDirectory(registry, settings, ttl_s=DIRECTORY_TTL_S)
    metrics = ReceiverMetrics(inbox, service_labels=service_labels(settings))

    app = Flask(__name__)
    app.json.sort_keys = False
    receiver = DeliveryReceiver(settings, directory, inbox, metrics)
    app.extensions[EXTENSION] = ReceiverServices(
        settings=settings,
        registry=registry,
        inbox=inbox,
        directory=directory,
        metrics=metrics,
        receiver=receiver,
        api_guard=ApiKeyGuard(settings.api_keys(), settings.API_RATE_LIMIT_PER_MINUTE),
        callback_limiter=KeyedRateLimiter(CALLBACKS_PER_MINUTE / 60, CALLBACKS_PER_MINUTE),
    )
    for blueprint in (webhooks.bp, operations.bp, integrations.bp, oauth.bp):
        app.register_blueprint(blueprint)
    _register_error_handlers(app)
    # Deliveries skip Flask's per-request machinery (see blueprints/webhooks.py).
    app.wsgi_app = webhooks.DeliveryRoute(  # type: ignore[method-assign]
        app.wsgi_app,
        receiver,
        trusted_hosts=app.config["TRUSTED_HOSTS"],
        on_http_error=http_error,
        on_error=unexpected,
    )
    return app


def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(exc.code or 500, code, exc.description or exc.name)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def unexpected(exc: Exception) -> Response:
    log.exception("unhandled error in the webhook receiver")
    return error_response(500, "internal_error", "an unexpected error occurred")


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Refusal)
    def refused(refusal: Refusal) -> Response:
        return refusal_response(refusal)

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
