"""Webhook verification: which scheme a delivery uses, and whether it is authentic.

One module per signature scheme beside this one, each exposing `SCHEME` (WooCommerce's module
also its unsigned ping). `SCHEMES` is the registry by name; a provider's `WebhookSpec.schemes`
names the ones it may use, in the order they are tried. `verify_delivery` returns the label
stored with the event, or raises SignatureError (401). Only modules of this package may know a
provider's signature facts; the choice of scheme is data.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.events import SignedRequest
from sources.provider import Provider, get_provider
from webhook_receiver.verification import (
    github,
    hubspot,
    salesforce,
    standard_webhooks,
    woocommerce,
    wordpress,
    wp_webhooks,
)
from webhook_receiver.verification.base import Scheme, SignatureError

WOOCOMMERCE_PING = woocommerce.PING

SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        hubspot.SCHEME,
        github.SCHEME,
        salesforce.SCHEME,
        standard_webhooks.SCHEME,
        woocommerce.SCHEME,
        woocommerce.PING_SCHEME,
        wp_webhooks.SCHEME,
        wordpress.SCHEME,
    )
}

__all__ = [
    "SCHEMES",
    "WOOCOMMERCE_PING",
    "Scheme",
    "SignatureError",
    "SignedRequest",
    "Verified",
    "authenticate",
    "require_accepted_version",
    "schemes_of",
    "verify_delivery",
]


@dataclass(frozen=True, slots=True)
class Verified:
    """An authentic delivery: the scheme that verified it and the label stored with its events."""

    scheme: Scheme
    label: str


def schemes_of(provider: Provider) -> list[Scheme]:
    """The provider's schemes in the order they are tried (an unknown name is a bug: KeyError)."""
    if provider.webhooks is None:
        raise ValueError(f"provider {provider.name!r} receives no webhooks")
    return [SCHEMES[name] for name in provider.webhooks.schemes]


def authenticate(
    provider: Provider, request: SignedRequest, secret: str | None, *, now_ms: int
) -> Verified:
    """Verify `request` for `provider` with the integration's secret.

    Unsigned messages the provider sends by design are recognised first; then the secret is
    required; then the first scheme whose headers are present verifies.
    """
    schemes = schemes_of(provider)
    for scheme in schemes:
        if not scheme.needs_secret and scheme.detect(request):
            return Verified(scheme, scheme.verify(request, secret, now_ms))
    if not secret:
        raise SignatureError(
            "missing_secret",
            "no webhook secret is configured for this integration (set its webhook_secret, "
            "or WEBHOOK_SECRET)",
        )
    for scheme in schemes:
        if scheme.needs_secret and scheme.detect(request):
            return Verified(scheme, scheme.verify(request, secret, now_ms))
    raise SignatureError("missing_signature", f"{provider.name}: the delivery carries no signature")


def require_accepted_version(verified: Verified, configured: tuple[str, ...] | None) -> None:
    """Refuse (401 signature_version_refused) a version the integration does not accept.

    `configured` is the integration's `webhook_signature_versions`; None means the scheme's
    documented default. Schemes without versions accept whatever verified.
    """
    scheme = verified.scheme
    version = scheme.version_of(verified.label)
    if version is None:
        return
    accepted = tuple(configured) if configured else scheme.default_versions
    if version in accepted:
        return
    raise SignatureError(
        "signature_version_refused",
        f"{scheme.name} {version} signatures are not accepted by this integration (it accepts "
        f"{', '.join(accepted)}; {scheme.version_risk}); to accept {version}, list it in the "
        "integration's webhook_signature_versions",
    )


def verify_delivery(
    provider: Provider | str, request: SignedRequest, secret: str | None, *, now_ms: int
) -> str:
    """The label of the scheme that verified `request` (a provider may be given by name)."""
    if isinstance(provider, str):
        provider = get_provider(provider)
    return authenticate(provider, request, secret, now_ms=now_ms).label
