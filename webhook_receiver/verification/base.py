"""What every signature scheme needs: the request as signed (`core.events.SignedRequest`),
the refusal, constant-time HMAC.

A scheme module only computes and compares; it never reads Flask, the registry or the clock.
"""

from __future__ import annotations

import hashlib
import hmac

from core.events import SignedRequest

__all__ = ["SignatureError", "SignedRequest", "hmac_sha256", "invalid", "require_header", "same"]


class SignatureError(Exception):
    """The delivery is not authentic: the receiver answers 401 and stores nothing.

    `code` is one of missing_signature, invalid_signature, stale_timestamp, missing_secret.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def same(expected: str, received: str) -> bool:
    """Constant-time comparison of two header values (non-ASCII input simply differs)."""
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


def require_header(request: SignedRequest, name: str, scheme: str) -> str:
    value = request.header(name)
    if value is None or not value.strip():
        raise SignatureError("missing_signature", f"{scheme}: the {name} header is missing")
    return value.strip()


def invalid(scheme: str) -> SignatureError:
    return SignatureError("invalid_signature", f"{scheme}: the signature does not match the body")
