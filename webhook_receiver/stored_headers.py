"""Which request headers are stored with an event: an allow-list, never a deny-list.

A proxy or a sender may forward credentials under any name (`x-auth-token`,
`x-forwarded-authorization`, `x-amz-security-token`, ...): no list of bad names can be complete,
so the inbox keeps only headers named here. They are the ones something downstream reads (the
provider parsers, replay, debugging): the generic request description, and each provider's
signature, delivery and event headers. Every header a signature scheme documents (its OpenAPI
`headers`) is added automatically, so a new scheme's headers are kept without editing this list;
anything else a new provider's parser reads must be added below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GENERIC = frozenset({"content-type", "content-length", "user-agent", "x-request-id"})

# Headers the provider parsers and handlers read, or that identify a delivery for support.
PROVIDER_METADATA = frozenset(
    {
        # HubSpot
        "x-hubspot-signature",
        "x-hubspot-signature-version",
        "x-hubspot-signature-v3",
        "x-hubspot-request-timestamp",
        "x-hubspot-timeout-millis",
        # GitHub
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
        "x-hub-signature",
        "x-hub-signature-256",
        # WooCommerce
        "x-wc-webhook-source",
        "x-wc-webhook-topic",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-signature",
        "x-wc-webhook-id",
        "x-wc-webhook-delivery-id",
        # WP Webhooks and our WordPress plugin
        "x-wp-webhook-source",
        "x-wp-webhook-signature",
        "x-wordpress-signature",
        "x-wordpress-delivery-id",
        # Salesforce
        "x-salesforce-signature",
        "x-salesforce-delivery-id",
        # Standard Webhooks
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def allowed_headers(scheme_headers: Iterable[Mapping]) -> frozenset[str]:
    """The allow-list: generic and provider headers, plus every header a scheme documents
    (`scheme_headers` are OpenAPI header objects with a `name`)."""
    documented = {str(h["name"]).lower() for h in scheme_headers if h.get("name")}
    return GENERIC | PROVIDER_METADATA | documented


def stored_headers(headers: Mapping[str, str], allowed: frozenset[str]) -> dict[str, str]:
    """The headers to store with an event: only allow-listed names (lower-cased already)."""
    return {name: value for name, value in headers.items() if name in allowed}
