"""Standard Webhooks v1 (providers.md 5), accepted from relays and our own senders.

expect = base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + body)); key =
base64-decode of the secret after `whsec_` (a secret without that prefix is used as UTF-8
bytes). `webhook-signature` is a space-separated list of `v1,<sig>`; any entry may match
(secret rotation). The timestamp (Unix seconds) must be within 5 minutes of now, either way.
"""

from __future__ import annotations

import base64
import binascii

from webhook_receiver.verification.base import (
    Scheme,
    SignatureError,
    SignedRequest,
    hmac_sha256,
    invalid,
    openapi_header,
    require_header,
    same,
)

MAX_SKEW_S = 300
PREFIX = "whsec_"


def key_bytes(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX) :], validate=True)
        except binascii.Error:
            raise SignatureError(
                "missing_secret", "standard-webhooks: the whsec_ secret is not valid base64"
            ) from None
    return secret.encode()


def sign(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac_sha256(key_bytes(secret), signed)).decode()


def verify(request: SignedRequest, secret: str, now_s: float) -> str:
    webhook_id = require_header(request, "webhook-id", "standard-webhooks")
    timestamp = require_header(request, "webhook-timestamp", "standard-webhooks")
    signatures = require_header(request, "webhook-signature", "standard-webhooks")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("invalid_signature", "standard-webhooks: bad webhook-timestamp")
    if abs(now_s - int(timestamp)) > MAX_SKEW_S:
        raise SignatureError(
            "stale_timestamp", "standard-webhooks: webhook-timestamp is more than 5 minutes off"
        )
    expected = sign(secret, webhook_id, timestamp, request.body)
    matched = False
    for entry in signatures.split(" "):
        # no early exit: every entry is compared, so timing does not tell which one matched
        matched |= entry.startswith("v1,") and same(expected, entry)
    if matched:
        return "standard-webhooks-v1"
    raise invalid("standard-webhooks")


SCHEME = Scheme(
    name="standard-webhooks",
    detect=lambda request: bool(request.header("webhook-signature")),
    verify=lambda request, secret, now_ms: verify(request, secret, now_ms / 1000),
    headers=(
        openapi_header("webhook-id", "Standard Webhooks message id (signed; the delivery id)"),
        openapi_header(
            "webhook-timestamp", "Standard Webhooks Unix seconds, within 5 minutes of now"
        ),
        openapi_header("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256>` entries"),
    ),
)
