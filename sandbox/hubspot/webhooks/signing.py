"""HubSpot's request signatures (providers.md 1.11), computed the way HubSpot's sender does.

v1 = hex SHA-256 of secret + body; v2 = hex SHA-256 of secret + method + URI + body;
v3 = base64 HMAC-SHA256 (key = secret) of method + URI + body + timestamp, where the URI has a
fixed set of percent-escapes decoded. `HubSpotSigner` is the `Signer` the shared sender
(`sandbox.common.webhooks`) calls. This module signs; it never verifies or sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

# the escapes HubSpot decodes in the v3 URI (hex digits are case-insensitive)
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
    """The URI as v3 signs it: fragment removed, the listed escapes decoded, others kept."""
    url = url.split("#", 1)[0]
    return _ESCAPE.sub(lambda m: _V3_DECODED.get(m.group(1).upper(), m.group(0)), url)


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, url: str, body: bytes) -> str:
    return hashlib.sha256((secret + method + url).encode() + body).hexdigest()


def sign_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: str) -> str:
    message = (method + v3_uri(url)).encode() + body + timestamp_ms.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(
    version: str,
    secret: str,
    method: str,
    url: str,
    body: bytes,
    timestamp_ms: int,
    legacy: bool = True,
) -> dict[str, str]:
    """The headers HubSpot adds for one request. v3 carries the v1 header too unless `legacy`
    is off (HubSpot keeps sending it "for backward compatibility")."""
    if version == "v1":
        return {"X-HubSpot-Signature": sign_v1(secret, body), "X-HubSpot-Signature-Version": "v1"}
    if version == "v2":
        return {
            "X-HubSpot-Signature": sign_v2(secret, method, url, body),
            "X-HubSpot-Signature-Version": "v2",
        }
    if version != "v3":
        raise ValueError(f"unknown signature version {version!r}")
    ts = str(timestamp_ms)
    headers = {
        "X-HubSpot-Signature-v3": sign_v3(secret, method, url, body, ts),
        "X-HubSpot-Request-Timestamp": ts,
    }
    if legacy:
        headers["X-HubSpot-Signature"] = sign_v1(secret, body)
        headers["X-HubSpot-Signature-Version"] = "v1"
    return headers


@dataclass(frozen=True)
class HubSpotSigner:
    """The `Signer` the generic sender uses: HubSpot's headers for one signature version."""

    version: str = "v3"
    legacy: bool = True
    signature_headers: tuple[str, ...] = ("X-HubSpot-Signature", "X-HubSpot-Signature-v3")

    def sign(self, body: bytes, url: str, secret: str, timestamp_ms: int) -> dict[str, str]:
        return signature_headers(
            self.version, secret, "POST", url, body, timestamp_ms, legacy=self.legacy
        )
