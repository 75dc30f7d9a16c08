"""X-WordPress-Signature: our own WordPress plugin's notifications.

hex(HMAC-SHA256(key = secret, raw body)), lower-case hex, no prefix.
"""

from __future__ import annotations

from webhook_receiver.verification.base import (
    Scheme,
    SignedRequest,
    has_header,
    hmac_sha256,
    invalid,
    openapi_header,
    require_header,
    same,
)


def sign(secret: str, body: bytes) -> str:
    return hmac_sha256(secret.encode(), body).hex()


def verify(request: SignedRequest, secret: str) -> str:
    signature = require_header(request, "X-WordPress-Signature", "wordpress")
    if same(sign(secret, request.body), signature.lower()):
        return "wordpress-sha256"
    raise invalid("wordpress")


SCHEME = Scheme(
    name="wordpress",
    detect=has_header("X-WordPress-Signature"),
    verify=lambda request, secret, now_ms: verify(request, secret),
    headers=(openapi_header("X-WordPress-Signature", "Our plugin: hex HMAC-SHA256 of the body"),),
)
