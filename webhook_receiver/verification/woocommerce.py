"""WooCommerce's X-WC-Webhook-Signature and its unsigned ping (providers.md 3.7).

Signature = base64(HMAC-SHA256(key = secret with HTML entities decoded, exact body bytes)).
The ping WooCommerce sends when a webhook is created is a POST whose body is exactly
`webhook_id=<id>`, with none of the X-WC-Webhook-* headers and no signature; it is accepted
only in exactly that shape (and must be answered with 200).
"""

from __future__ import annotations

import base64
import html
import re

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

PING_BODY = re.compile(rb"webhook_id=([0-9]{1,20})")
PING_MEDIA_TYPES = ("application/x-www-form-urlencoded", "")


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac_sha256(html.unescape(secret).encode(), body)).decode()


def verify(request: SignedRequest, secret: str) -> str:
    signature = require_header(request, "X-WC-Webhook-Signature", "woocommerce")
    if same(sign(secret, request.body), signature):
        return "woocommerce-sha256"
    raise invalid("woocommerce")


def ping_webhook_id(request: SignedRequest) -> str | None:
    """The webhook id when the request is exactly WooCommerce's ping, else None.

    WordPress posts the ping as a form (`application/x-www-form-urlencoded`); an untyped body
    is tolerated, any other type (JSON included) makes it an unsigned delivery.
    """
    if any(name.startswith("x-wc-webhook-") for name in request.headers):
        return None
    media_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type not in PING_MEDIA_TYPES:
        return None
    match = PING_BODY.fullmatch(request.body)
    return match.group(1).decode() if match else None


PING = "woocommerce-ping"
# Signature headers of every scheme a WordPress site may use: a ping carries none of them.
_SIGNATURE_HEADERS = (
    "x-wc-webhook-signature",
    "x-wp-webhook-signature",
    "x-wordpress-signature",
    "webhook-signature",
)


def is_ping(request: SignedRequest) -> bool:
    """Unsigned and exactly WooCommerce's ping."""
    if any(name in request.headers for name in _SIGNATURE_HEADERS):
        return False
    return ping_webhook_id(request) is not None


SCHEME = Scheme(
    name="woocommerce",
    detect=has_header("X-WC-Webhook-Signature"),
    verify=lambda request, secret, now_ms: verify(request, secret),
    headers=(
        openapi_header("X-WC-Webhook-Signature", "WooCommerce: base64 HMAC-SHA256 of the body"),
    ),
)
# WooCommerce treats anything but exactly 200 as a failed ping.
PING_SCHEME = Scheme(
    name=PING,
    detect=is_ping,
    verify=lambda request, secret, now_ms: PING,
    needs_secret=False,
    success_status=200,
    success_description="WooCommerce ping stored (WooCommerce requires exactly 200)",
)
