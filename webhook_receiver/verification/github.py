"""GitHub's X-Hub-Signature-256 (providers.md 4.7).

header == "sha256=" + hex(HMAC-SHA256(key = secret, raw body)). The legacy SHA-1
X-Hub-Signature is not accepted: GitHub always sends the SHA-256 header beside it.
"""

from __future__ import annotations

from webhook_receiver.verification.base import (
    Scheme,
    SignedRequest,
    always,
    hmac_sha256,
    invalid,
    openapi_header,
    require_header,
    same,
)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret.encode(), body).hex()


def verify(request: SignedRequest, secret: str) -> str:
    signature = require_header(request, "X-Hub-Signature-256", "github")
    if same(sign(secret, request.body), signature):
        return "github-sha256"
    raise invalid("github")


SCHEME = Scheme(
    name="github",
    detect=always,
    verify=lambda request, secret, now_ms: verify(request, secret),
    headers=(
        openapi_header(
            "X-Hub-Signature-256", "`sha256=` + hex HMAC-SHA256 of the body", required=True
        ),
    ),
)
