"""HubSpot's request signatures v1, v2 and v3 (providers.md 1.11).

v1 = hex SHA-256 of secret + raw body; v2 = hex SHA-256 of secret + METHOD + URI + raw body
(URI exactly as called); v3 = base64 HMAC-SHA256 (key = secret) of METHOD + URI + raw body +
X-HubSpot-Request-Timestamp, where the URI has a fixed set of percent-escapes decoded and the
timestamp (epoch ms) must be within 5 minutes of now. The secret is the app's client secret.
When a v3 signature is present only v3 is checked: its replay window must not be bypassed.

Which versions an integration accepts is its choice (config `webhook_signature_versions`);
the default is v3 only. v1 and v2 sign no timestamp, so a captured delivery verifies forever:
once the inbox has purged its delivery id (7 days by default) a replay is a new event. HubSpot
sends v3 on its deliveries (with the v1 header beside it "for backward compatibility"), so v3
only costs nothing to an integration receiving from HubSpot today; a sender that still signs
v1 or v2 only (old workflow webhooks, CRM cards) is accepted once its integration opts in.
"""

from __future__ import annotations

import base64
import hashlib
import re

from webhook_receiver.verification.base import (
    Scheme,
    SignatureError,
    SignedRequest,
    always,
    hmac_sha256,
    invalid,
    openapi_header,
    require_header,
    same,
)

V3_MAX_SKEW_MS = 300_000
# The escapes HubSpot decodes in the v3 URI; hex digits are case-insensitive, others stay.
_V3_DECODED = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def v3_uri(url: str) -> str:
    """The URI as v3 signs it: fragment removed, the listed escapes decoded."""
    url = url.split("#", 1)[0]
    if "%" not in url:
        return url
    return _ESCAPE.sub(lambda m: _V3_DECODED.get(m.group(1).upper(), m.group(0)), url)


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, url: str, body: bytes) -> str:
    return hashlib.sha256((secret + method + url).encode() + body).hexdigest()


def sign_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: str) -> str:
    message = (method + v3_uri(url)).encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac_sha256(secret.encode(), message)).decode()


def verify(request: SignedRequest, secret: str, now_ms: int) -> str:
    """Return the scheme that verified the request, or raise SignatureError."""
    if request.header("X-HubSpot-Signature-v3") is not None:
        return _verify_v3(request, secret, now_ms)
    signature = require_header(request, "X-HubSpot-Signature", "hubspot")
    version = (request.header("X-HubSpot-Signature-Version") or "").strip().lower()
    if version == "v1":
        if same(sign_v1(secret, request.body), signature.lower()):
            return "hubspot-v1"
        raise invalid("hubspot v1")
    if version == "v2":
        for url in request.urls:
            if same(sign_v2(secret, request.method, url, request.body), signature.lower()):
                return "hubspot-v2"
        raise invalid("hubspot v2")
    raise SignatureError(
        "missing_signature",
        "hubspot: X-HubSpot-Signature-Version must be v1 or v2 (or send X-HubSpot-Signature-v3)",
    )


def _verify_v3(request: SignedRequest, secret: str, now_ms: int) -> str:
    signature = require_header(request, "X-HubSpot-Signature-v3", "hubspot v3")
    timestamp = require_header(request, "X-HubSpot-Request-Timestamp", "hubspot v3")
    if not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureError("invalid_signature", "hubspot v3: the timestamp is not epoch ms")
    if abs(now_ms - int(timestamp)) > V3_MAX_SKEW_MS:
        raise SignatureError(
            "stale_timestamp",
            "hubspot v3: X-HubSpot-Request-Timestamp is more than 5 minutes from now",
        )
    for url in request.urls:
        if same(sign_v3(secret, request.method, url, request.body, timestamp), signature):
            return "hubspot-v3"
    raise invalid("hubspot v3")


SCHEME = Scheme(
    name="hubspot",
    detect=always,
    verify=verify,
    headers=(
        openapi_header("X-HubSpot-Signature-v3", "base64 HMAC-SHA256 of method+URI+body+timestamp"),
        openapi_header("X-HubSpot-Request-Timestamp", "Epoch ms, within 5 minutes of now (v3)"),
        openapi_header("X-HubSpot-Signature", "v1/v2 hex SHA-256 signature"),
        openapi_header("X-HubSpot-Signature-Version", "v1 or v2", enum=["v1", "v2", "v3"]),
    ),
    versions=("v1", "v2", "v3"),
    default_versions=("v3",),
    version_risk="v1 and v2 sign no timestamp, so a captured delivery could be replayed",
)
