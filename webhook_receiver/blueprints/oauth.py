"""`GET /api/v1/oauth/callback`: where the provider sends the browser after consent.

No API key (a browser cannot hold one): the single-use, ten-minute, PKCE-bound state issued with
the authorization URL is the credential. Callbacks are rate limited per client address.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from webhook_receiver.blueprints.presenters import integration_json, registry_errors
from webhook_receiver.ratelimit import retry_after_header
from webhook_receiver.responses import Refusal, json_response
from webhook_receiver.services import services

bp = Blueprint("oauth", __name__)


@bp.get("/api/v1/oauth/callback")
def callback() -> Response:
    svc = services()
    wait = svc.callback_limiter.acquire(f"ip:{request.remote_addr}")
    if wait is not None:
        raise Refusal(
            429,
            "rate_limited",
            "too many OAuth callbacks from this address",
            headers={"Retry-After": retry_after_header(wait)},
        )
    state = request.args.get("state")
    if not state:
        raise Refusal(400, "oauth_failed", "the callback carries no state parameter")
    with registry_errors(auth_code="oauth_failed"):
        integration = svc.registry.complete_callback(
            state=state,
            code=request.args.get("code"),
            error=request.args.get("error"),
            actor="oauth-callback",
        )
    svc.directory.invalidate(integration.id)
    return json_response(integration_json(integration))
