"""Which request headers are stored with an event: an allow-list, never a deny-list.

A proxy or a sender may forward credentials under any name (`x-auth-token`,
`x-forwarded-authorization`, `x-amz-security-token`, ...): no list of bad names can be complete,
so the inbox keeps only headers named here. They are the ones something downstream reads (the
provider parsers, replay, debugging): the generic request description, and each provider's
signature, delivery and event headers, which each provider declares in its `WebhookSpec`
(`stored_headers`). Every header a signature scheme documents (its OpenAPI `headers`) is added
automatically. This module names no provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GENERIC = frozenset({"content-type", "content-length", "user-agent", "x-request-id"})

# The Standard Webhooks headers (a specification several senders share, not a provider).
STANDARD_WEBHOOKS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})


def allowed_headers(
    scheme_headers: Iterable[Mapping], provider_headers: Iterable[str] = ()
) -> frozenset[str]:
    """The allow-list: generic headers, every header a scheme documents (`scheme_headers` are
    OpenAPI header objects with a `name`) and each provider's own (`WebhookSpec.stored_headers`)."""
    documented = {str(h["name"]).lower() for h in scheme_headers if h.get("name")}
    declared = {name.lower() for name in provider_headers}
    return GENERIC | STANDARD_WEBHOOKS | documented | declared


def stored_headers(headers: Mapping[str, str], allowed: frozenset[str]) -> dict[str, str]:
    """The headers to store with an event: only allow-listed names (lower-cased already)."""
    return {name: value for name, value in headers.items() if name in allowed}
