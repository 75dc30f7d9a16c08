"""From a verified delivery to inbox events: one module per provider's body shape.

`parse_delivery` never checks signatures (verification did) and never stores anything; it
raises PayloadError (400/415) for a body the provider would not send.
"""

from __future__ import annotations

from webhook_receiver.parsing import github, hubspot, salesforce, wordpress
from webhook_receiver.parsing.common import ParsedEvent, PayloadError
from webhook_receiver.verification import SignedRequest

__all__ = ["MEDIA_TYPES", "ParsedEvent", "PayloadError", "parse_delivery"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# What each provider may send; WordPress's form (or absent) type is only the WooCommerce ping.
MEDIA_TYPES: dict[str, frozenset[str]] = {
    "hubspot": frozenset({JSON}),
    "github": frozenset({JSON, FORM}),
    "salesforce": frozenset({JSON}),
    "wordpress": frozenset({JSON, FORM, ""}),
}


def parse_delivery(
    provider: str, scheme: str, request: SignedRequest, media_type: str
) -> list[ParsedEvent]:
    if provider == "hubspot":
        return hubspot.parse(request.body)
    if provider == "github":
        return github.parse(request, media_type)
    if provider == "wordpress":
        return wordpress.parse(request, media_type, scheme)
    if provider == "salesforce":
        return salesforce.parse(request)
    raise ValueError(f"unknown provider {provider!r}")
