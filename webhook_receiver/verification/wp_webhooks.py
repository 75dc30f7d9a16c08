"""The WP Webhooks plugin's X-WP-Webhook-Signature (providers.md 3.8).

base64(HMAC-SHA256(key = the plugin's trigger secret, request body)): WooCommerce's construction
without the HTML-entity decoding of the secret.
"""

from __future__ import annotations

import base64

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
    return base64.b64encode(hmac_sha256(secret.encode(), body)).decode()


def verify(request: SignedRequest, secret: str) -> str:
    signature = require_header(request, "X-WP-Webhook-Signature", "wp-webhooks")
    if same(sign(secret, request.body), signature):
        return "wp-webhooks-sha256"
    raise invalid("wp-webhooks")


SCHEME = Scheme(
    name="wp-webhooks",
    detect=has_header("X-WP-Webhook-Signature"),
    verify=lambda request, secret, now_ms: verify(request, secret),
    headers=(
        openapi_header("X-WP-Webhook-Signature", "WP Webhooks: base64 HMAC-SHA256 of the body"),
    ),
)
