"""Per-provider webhook verification: which scheme a delivery uses, and whether it is authentic.

`verify_delivery` picks the scheme from the headers the provider sends and returns its name
(stored with the event), or raises SignatureError (401). One module per scheme beside this one.
"""

from __future__ import annotations

from webhook_receiver.verification import (
    github,
    hubspot,
    salesforce,
    standard_webhooks,
    woocommerce,
    wordpress,
    wp_webhooks,
)
from webhook_receiver.verification.base import SignatureError, SignedRequest

PROVIDERS = ("hubspot", "salesforce", "wordpress", "github")
WOOCOMMERCE_PING = "woocommerce-ping"

__all__ = ["PROVIDERS", "WOOCOMMERCE_PING", "SignatureError", "SignedRequest", "verify_delivery"]


def verify_delivery(
    provider: str, request: SignedRequest, secret: str | None, *, now_ms: int
) -> str:
    """Verify `request` for `provider` with the integration's secret; return the scheme name."""
    if provider == "wordpress" and _unsigned(request) and woocommerce.ping_webhook_id(request):
        return WOOCOMMERCE_PING
    if not secret:
        raise SignatureError(
            "missing_secret",
            "no webhook secret is configured for this integration (set its webhook_secret, "
            "or WEBHOOK_SECRET)",
        )
    if provider == "hubspot":
        return hubspot.verify(request, secret, now_ms)
    if provider == "github":
        return github.verify(request, secret)
    if provider == "wordpress":
        if request.header("X-WC-Webhook-Signature") is not None:
            return woocommerce.verify(request, secret)
        if request.header("X-WP-Webhook-Signature") is not None:
            return wp_webhooks.verify(request, secret)
        if request.header("X-WordPress-Signature") is not None:
            return wordpress.verify(request, secret)
    if provider == "salesforce" and request.header("X-Salesforce-Signature") is not None:
        return salesforce.verify(request, secret)
    if provider in ("wordpress", "salesforce") and request.header("webhook-signature"):
        return standard_webhooks.verify(request, secret, now_ms / 1000)
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}")
    raise SignatureError("missing_signature", f"{provider}: the delivery carries no signature")


_SIGNATURE_HEADERS = (
    "x-wc-webhook-signature",
    "x-wp-webhook-signature",
    "x-wordpress-signature",
    "webhook-signature",
)


def _unsigned(request: SignedRequest) -> bool:
    return not any(name in request.headers for name in _SIGNATURE_HEADERS)
