"""OAuth 2.0 server of the sandbox portal: authorize (auto-consent), token, introspection.

Served from the same base URL as the API. Error bodies follow HubSpot's OAuth shape
`{status: "BAD_AUTH_CODE"|..., message, correlationId}`.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, request

from sandbox.common.tokens import AuthCode, s256
from sandbox.hubspot.responses import correlation_id, json_response
from sandbox.hubspot.routes.common import state

bp = Blueprint("hubspot_oauth", __name__)


def oauth_error(status: str, message: str, http_status: int = 400) -> Response:
    return json_response(
        {"status": status, "message": message, "correlationId": correlation_id()}, http_status
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _error_page(message: str) -> Response:
    html = (
        "<!DOCTYPE html><html><head><title>HubSpot - Authorization error</title></head>"
        f"<body><h1>Authorization failed</h1><p>{message}</p></body></html>"
    )
    return Response(html, status=400, content_type="text/html;charset=utf-8")


@bp.get("/oauth/authorize")
def authorize() -> Response:
    st = state()
    args = request.args
    client_id = args.get("client_id", "")
    redirect_uri = args.get("redirect_uri", "")
    if client_id != st.config.oauth_client_id:
        return _error_page("The app you are trying to install does not exist (unknown client_id).")
    if not redirect_uri.startswith(("http://", "https://")):
        return _error_page("Missing or invalid redirect_uri.")
    method = args.get("code_challenge_method")
    challenge = args.get("code_challenge")
    if challenge and (method or "plain") not in ("S256", "plain"):
        return _error_page("Unsupported code_challenge_method.")
    state_param = args.get("state")
    if st.deny_consent:
        params = {"error": "access_denied", "error_description": "The user denied access."}
        if state_param is not None:
            params["state"] = state_param
        return redirect(_with_query(redirect_uri, params), 302)
    scopes = args.get("scope", "").split() + args.get("optional_scope", "").split()
    code = st.tokens.issue_code(
        AuthCode(
            client_id, redirect_uri, scopes, challenge, method or ("plain" if challenge else None)
        )
    )
    params = {"code": code}
    if state_param is not None:
        params["state"] = state_param
    return redirect(_with_query(redirect_uri, params), 302)


def _token_response(access: Any, refresh: str | None) -> Response:
    st = state()
    body: dict[str, Any] = {
        "token_type": "bearer",
        "access_token": access.token,
        "expires_in": st.config.access_token_ttl,
        "token_use": "access_token",
        "hub_id": st.config.portal_id,
        "user_id": st.config.user_id,
        "scopes": access.scopes,
    }
    if refresh:
        body["refresh_token"] = refresh
    return json_response(body)


@bp.post("/oauth/v1/token")
@bp.post("/oauth/v3/token")
def token() -> Response:
    st = state()
    form = request.form
    grant = form.get("grant_type", "")
    if form.get("client_id") != st.config.oauth_client_id:
        return oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
    if not hmac.compare_digest(
        form.get("client_secret", "").encode(), st.config.oauth_client_secret.encode()
    ):
        return oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    now = st.now_ms()
    ttl = st.config.access_token_ttl
    with st.lock:
        if grant == "authorization_code":
            code = st.tokens.codes.get(form.get("code", ""))
            if code is None or code.used:
                return oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
                return oauth_error(
                    "BAD_REDIRECT_URI", "redirect_uri does not match initial auth code URL"
                )
            if code.challenge:
                verifier = form.get("code_verifier", "")
                expected = s256(verifier) if code.method == "S256" else verifier
                if not verifier or not hmac.compare_digest(expected, code.challenge):
                    return oauth_error(
                        "BAD_AUTH_CODE", "code_verifier does not match the code_challenge"
                    )
            code.used = True
            rt = st.tokens.issue_refresh(code.scopes, code.client_id)
            at = st.tokens.issue_access(code.scopes, code.client_id, rt.token, now, ttl)
            return _token_response(at, rt.token)
        if grant == "refresh_token":
            rt = st.tokens.refresh.get(form.get("refresh_token", ""))
            if rt is None:
                return oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            if st.config.rotate_refresh_tokens:
                st.tokens.drop_refresh(rt.token)
                rt = st.tokens.issue_refresh(rt.scopes, rt.client_id)
            at = st.tokens.issue_access(rt.scopes, rt.client_id, rt.token, now, ttl)
            return _token_response(at, rt.token)
        if grant == "client_credentials":
            scopes = form.get("scope", "").split()
            at = st.tokens.issue_access(scopes, st.config.oauth_client_id, None, now, ttl)
            return _token_response(at, None)
    return oauth_error("BAD_GRANT_TYPE", f"unsupported grant_type: {grant}")


def _access_info(token_value: str) -> Response:
    st = state()
    at = st.tokens.access.get(token_value)
    if at is None:
        return oauth_error("NOT_FOUND", "Token not found", 404)
    remaining = (at.expires_ms - st.now_ms()) // 1000
    if remaining <= 0:
        return oauth_error("EXPIRED_AUTHENTICATION", "Token has expired", 401)
    return json_response(
        {
            "token": at.token,
            "user": "sandbox-user@example.com",
            "hub_domain": st.config.hub_domain,
            "scopes": at.scopes,
            "hub_id": st.config.portal_id,
            "app_id": st.config.app_id,
            "expires_in": remaining,
            "user_id": st.config.user_id,
            "token_type": "access",
        }
    )


@bp.get("/oauth/v1/access-tokens/<token_value>")
def access_token_info(token_value: str) -> Response:
    return _access_info(token_value)


@bp.route("/oauth/v1/refresh-tokens/<token_value>", methods=["GET", "DELETE"])
def refresh_token_info(token_value: str) -> Response:
    st = state()
    rt = st.tokens.refresh.get(token_value)
    if rt is None:
        return oauth_error("NOT_FOUND", "Refresh token not found", 404)
    if request.method == "DELETE":
        with st.lock:
            st.tokens.drop_refresh(token_value)
        return Response(status=204)
    return json_response(
        {
            "token": rt.token,
            "user": "sandbox-user@example.com",
            "hub_domain": st.config.hub_domain,
            "scopes": rt.scopes,
            "hub_id": st.config.portal_id,
            "client_id": rt.client_id,
            "user_id": st.config.user_id,
            "token_type": "refresh",
        }
    )


@bp.post("/oauth/v3/token/introspect")
def introspect() -> Response:
    st = state()
    value = request.form.get("token", "")
    at = st.tokens.access.get(value)
    if at is not None and at.expires_ms > st.now_ms():
        return json_response(
            {
                "active": True,
                "token_type": "access",
                "scopes": at.scopes,
                "hub_id": st.config.portal_id,
                "user_id": st.config.user_id,
                "client_id": at.client_id,
                "expires_in": (at.expires_ms - st.now_ms()) // 1000,
            }
        )
    rt = st.tokens.refresh.get(value)
    if rt is not None:
        return json_response(
            {
                "active": True,
                "token_type": "refresh",
                "scopes": rt.scopes,
                "client_id": rt.client_id,
            }
        )
    return json_response({"active": False})


@bp.post("/oauth/v3/token/revoke")
def revoke() -> Response:
    st = state()
    value = request.form.get("token", "")
    with st.lock:
        st.tokens.access.pop(value, None)
        st.tokens.drop_refresh(value)
    return Response(status=200)
