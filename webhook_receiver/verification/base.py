"""What every signature scheme needs: the request as signed (`core.events.SignedRequest`),
the refusal, constant-time HMAC.

A scheme module only computes and compares; it never reads Flask, the registry or the clock.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.events import SignedRequest

__all__ = [
    "Scheme",
    "SignatureError",
    "SignedRequest",
    "always",
    "has_header",
    "openapi_header",
    "hmac_sha256",
    "invalid",
    "require_header",
    "same",
]

ACCEPTED = 202


@dataclass(frozen=True)
class Scheme:
    """One signature scheme as the receiver tries it; providers name schemes in their spec.

    `detect(request)`: the delivery uses this scheme (its headers are present).
    `verify(request, secret, now_ms)`: the label stored with the event (e.g. "github-sha256"),
    or SignatureError. `needs_secret=False` marks an unsigned message the provider sends by
    design (tried before the secret is required). `success_status` is the status an accepted
    delivery gets (some senders require exactly 200). `headers` are the OpenAPI header
    parameters the scheme reads (`name`, `description`, optional `required` and `schema`).

    `versions`: the versions of a scheme with several (labels are `<name>-<version>`); each
    integration chooses which it accepts (config `webhook_signature_versions`), else
    `default_versions`. `version_risk` says why the others are not accepted by default.
    """

    name: str
    detect: Callable[[SignedRequest], bool]
    verify: Callable[[SignedRequest, str | None, int], str]
    needs_secret: bool = True
    success_status: int = ACCEPTED
    success_description: str = "Committed to the inbox"
    headers: tuple[Mapping[str, Any], ...] = ()
    versions: tuple[str, ...] = ()
    default_versions: tuple[str, ...] = ()
    version_risk: str = ""

    def version_of(self, label: str) -> str | None:
        """The version a verified label names (None for a scheme without versions)."""
        prefix = f"{self.name}-"
        if not self.versions or not label.startswith(prefix):
            return None
        return label[len(prefix) :]


def always(request: SignedRequest) -> bool:
    """Detector of a provider's only scheme: its verify() says which header is missing."""
    return True


def has_header(name: str) -> Callable[[SignedRequest], bool]:
    """Detector: the header is present (even empty: verify() then refuses it)."""
    lowered = name.lower()
    return lambda request: lowered in request.headers


def openapi_header(name: str, description: str, *, required: bool = False, **schema: Any) -> dict:
    """An OpenAPI header parameter, as `Scheme.headers` and provider specs list them."""
    entry: dict[str, Any] = {"name": name, "description": description, "required": required}
    if schema:
        entry["schema"] = schema
    return entry


class SignatureError(Exception):
    """The delivery is not authentic: the receiver answers 401 and stores nothing.

    `code` is one of missing_signature, invalid_signature, stale_timestamp, missing_secret,
    signature_version_refused.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    # The one-shot C path: no HMAC object per delivery (measurably cheaper on the hot path).
    return hmac.digest(key, message, "sha256")


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
