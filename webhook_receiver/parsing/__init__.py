"""From a verified delivery to inbox events: one module per provider's body shape.

`parse_delivery` never checks signatures (verification did) and never stores anything; it
raises PayloadError (400/415) for a body the provider would not send.
"""

from __future__ import annotations

from core.events import ParsedEvent, PayloadError, SignedRequest, storable_text
from webhook_receiver.parsing import github, hubspot, salesforce, wordpress

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
        events = hubspot.parse(request.body)
    elif provider == "github":
        events = github.parse(request, media_type)
    elif provider == "wordpress":
        events = wordpress.parse(request, media_type, scheme)
    elif provider == "salesforce":
        events = salesforce.parse(request)
    else:
        raise ValueError(f"unknown provider {provider!r}")
    for position, event in enumerate(events):
        _require_storable(position, event)
    return events


def _require_storable(position: int, event: ParsedEvent) -> None:
    """Identifiers become text columns: refuse (400) what no inbox can store, rather than
    failing the commit (a 5xx the provider would retry forever)."""
    for name in ("delivery_id", "event_type", "object_type", "object_id"):
        if not storable_text(getattr(event, name)):
            raise PayloadError(
                "invalid_payload",
                f"event #{position}: its {name.replace('_', ' ')} holds a NUL character or an "
                "unpaired surrogate",
            )
