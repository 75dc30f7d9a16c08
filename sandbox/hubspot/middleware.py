"""Per-request pipeline: URL length, injected faults, authentication, scopes, rate limits, log.

Runs as Flask before/after hooks, so every blueprint gets the same gateway behaviour HubSpot's
edge shows: faults and 414 first, then 401/403, then 429, then the handler. Timing, fault
drawing and the request log are the shared steps of `sandbox.common.gateway`.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from sandbox.common.gateway import injected_fault, log_request, start_request
from sandbox.hubspot.faults import HubSpotFaultResponses
from sandbox.hubspot.objtypes import resolve_any
from sandbox.hubspot.ratelimit import headers_for
from sandbox.hubspot.responses import ApiError, json_response, rate_limit_body
from sandbox.hubspot.routes.common import state

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


API_PREFIXES = ("/crm/", "/crm-object-schemas/", "/properties/")


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _required_scopes(path: str) -> set[str] | None:
    """Scopes any one of which allows this call (None = no scope check)."""
    args = request.view_args or {}
    if path.startswith(("/crm/v3/schemas", "/crm-object-schemas/")):
        return {"crm.schemas.custom.read"} if request.method == "GET" else None
    key = args.get("object_type_key") or args.get("from_type")
    otype = resolve_any(str(key)) if key else None
    if otype is None:
        return None
    name = otype.name
    if "/properties" in path:
        return (
            {f"crm.schemas.{name}.read", f"crm.objects.{name}.read"}
            if request.method == "GET"
            else {f"crm.schemas.{name}.write"}
        )
    reading = request.method == "GET" or path.endswith(("/search", "/batch/read"))
    return {f"crm.objects.{name}.read"} if reading else {f"crm.objects.{name}.write"}


def _authenticate() -> Response | None:
    st = state()
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and token in st.tokens.private_app_tokens:
        g.auth = "private_app"
        return None
    at = st.tokens.access.get(token) if token else None
    if at is None:
        g.auth = "none"
        raise ApiError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
    g.auth = "oauth"
    now = st.now_ms()
    if now >= at.expires_ms:
        seconds = max(1, (now - at.expires_ms) // 1000)
        raise ApiError(
            401,
            f"The OAuth token used to make this call expired {seconds} second(s) ago.",
            "EXPIRED_AUTHENTICATION",
        )
    if st.config.enforce_scopes:
        needed = _required_scopes(request.path)
        if needed and not needed & set(at.scopes):
            raise ApiError(
                403,
                "This app hasn't been granted all required scopes to make this call. "
                "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": sorted(needed)},
                    }
                ],
            )
    return None


def before() -> Response | None:
    start_request()
    g.rate_headers = None
    st = state()
    path = request.path
    if len(request.full_path) > st.config.max_url_length:
        return json_response(
            {"status": "error", "message": "URI Too Long", "category": "VALIDATION_ERROR"}, 414
        )
    fault = injected_fault(st.faults, HubSpotFaultResponses(st.limiter))
    if fault is not None:
        return fault
    if not _is_api(path):
        return None
    _authenticate()
    if path.endswith("/search") and request.method == "POST":
        if not st.limiter.check_search():
            return json_response(rate_limit_body("SECONDLY"), 429)
        return None
    oauth = g.auth == "oauth"
    decision = st.limiter.check("oauth" if oauth else "private_app", st.day())
    headers = headers_for(decision, oauth)
    if not decision.allowed:
        return json_response(
            rate_limit_body(decision.policy or "TEN_SECONDLY_ROLLING"), 429, headers
        )
    g.rate_headers = headers
    return None


def after(resp: Response) -> Response:
    headers = g.get("rate_headers")
    if headers:
        resp.headers.update(headers)
    log_request(state().log, resp)
    return resp


def install(app: Flask) -> None:
    app.before_request(before)
    app.after_request(after)
