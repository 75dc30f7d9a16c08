"""Application factory of the HubSpot sandbox: `create_app(config)` → a Flask app serving the
HubSpot API, its OAuth server and the `/_sandbox/` admin interface from one base URL."""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from sandbox.common.http import SandboxRequestError
from sandbox.hubspot import middleware
from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.responses import ApiError, error_body, json_response
from sandbox.hubspot.routes import (
    admin,
    associations,
    batch,
    oauth,
    objects,
    properties,
    schemas,
    search,
)
from sandbox.hubspot.routes.common import EXTENSION
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.webhooks import api_routes


def create_app(config: HubSpotSandboxConfig | None = None) -> Flask:
    """Build a sandbox portal app with its own state and clock."""
    app = Flask("sandbox.hubspot")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = SandboxState(config or HubSpotSandboxConfig())
    for module in (search, batch, associations, objects, properties, schemas, oauth, admin):
        app.register_blueprint(module.bp)
    app.register_blueprint(admin.shared_bp)  # /_sandbox/{config,reset,clock,faults,requests}
    app.register_blueprint(admin.webhooks_bp)  # /_sandbox/webhooks
    app.register_blueprint(api_routes.bp)  # /webhooks/v3/{appId}/...
    middleware.install(app)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(SandboxRequestError)
    def _shared_route_error(exc: SandboxRequestError) -> Response:
        return ApiError(exc.status, exc.message, "VALIDATION_ERROR").response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        category = "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR"
        return json_response(error_body(exc.description or exc.name, category), status)

    return app


def sandbox_state(app: Flask) -> SandboxState:
    """The state of an app built by `create_app` (for in-process tests and tools)."""
    return app.extensions[EXTENSION]
