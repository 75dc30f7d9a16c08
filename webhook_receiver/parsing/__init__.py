"""From a verified delivery to inbox events, through the provider's own parser.

Each provider's `webhooks.py` (its `WebhookSpec.parse`) knows its body shapes; this module only
calls it and refuses (400) identifiers no inbox can store. It never checks signatures
(verification did), never stores anything and never names a provider.
"""

from __future__ import annotations

from core.events import ParsedEvent, PayloadError, SignedRequest, storable_text
from sources.provider import Provider

__all__ = ["ParsedEvent", "PayloadError", "parse_delivery"]


def parse_delivery(
    provider: Provider, scheme: str, request: SignedRequest, media_type: str
) -> list[ParsedEvent]:
    """The delivery's events (`scheme` is the label verification returned), or PayloadError."""
    if provider.webhooks is None:
        raise ValueError(f"provider {provider.name!r} receives no webhooks")
    try:
        events = provider.webhooks.parse(request, media_type, scheme)
    except RecursionError:
        # A parser walking a value the JSON limits let through: the body's fault, not ours (a
        # 500 would make the provider retry it forever).
        raise PayloadError("malformed_json", "the body is nested too deeply to parse") from None
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
