"""X-Salesforce-Signature: Salesforce events relayed to us from a Flow or Apex.

Salesforce itself does not sign outbound HTTP callouts, so the relay signs: HMAC-SHA256 with the
integration's webhook secret over the exact body bytes. providers.md fixes no encoding, so both
Apex idioms are accepted: base64 (`EncodingUtil.base64Encode(Crypto.generateMac('hmacSHA256',
body, key))`, the canonical form) and lower-case hex (`EncodingUtil.convertToHex(...)`). The
form is told apart by shape (64 hex characters) and compared in constant time.
"""

from __future__ import annotations

import base64
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

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def sign(secret: str, body: bytes) -> str:
    """The canonical (base64) signature."""
    return base64.b64encode(hmac_sha256(secret.encode(), body)).decode()


def sign_hex(secret: str, body: bytes) -> str:
    return hmac_sha256(secret.encode(), body).hex()


def verify(request: SignedRequest, secret: str) -> str:
    signature = require_header(request, "X-Salesforce-Signature", "salesforce")
    if _HEX64.fullmatch(signature):
        expected = sign_hex(secret, request.body)
        signature = signature.lower()
    else:
        expected = sign(secret, request.body)
    if same(expected, signature):
        return "salesforce-sha256"
    raise invalid("salesforce")


SCHEME = Scheme(
    name="salesforce",
    detect=has_header("X-Salesforce-Signature"),
    verify=lambda request, secret, now_ms: verify(request, secret),
    headers=(openapi_header("X-Salesforce-Signature", "HMAC-SHA256 of the body, base64 (or hex)"),),
)
