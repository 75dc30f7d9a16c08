"""What a provider tells the generic webhook sender about its wire format: how it signs a
request (`Signer`) and how a batch of events becomes a request body (`EventShape`).

Protocols only: this module never signs, sends or queues anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Event = dict[str, Any]  # one event as the provider shapes it (JSON-ready)


class Signer(Protocol):
    """Signs one request the way the provider's sender does."""

    @property
    def signature_headers(self) -> Sequence[str]:
        """Names of the headers that carry a signature (the `corrupt_signature` fault alters
        exactly these; a timestamp header is not one of them)."""
        ...

    def sign(self, body: bytes, url: str, secret: str, timestamp_ms: int) -> dict[str, str]:
        """The headers to add to a POST of `body` to `url` (as the receiver will see the URL),
        signed with `secret` at `timestamp_ms`."""
        ...


class EventShape(Protocol):
    """How events look on the wire: the body of one batch, and the fields the delivery log
    shows. Batch size itself is a setting (`SenderSettings.max_batch_size`; 1 for a provider
    that sends one event per request)."""

    content_type: str

    def body(self, events: Sequence[Event], attempt_number: int) -> bytes:
        """The exact bytes sent for this batch on this attempt (0 = first try). The same
        events and attempt number must give the same bytes (the log re-renders them)."""
        ...

    def event_id(self, event: Event) -> Any:
        """The id a receiver de-duplicates on."""
        ...

    def event_type(self, event: Event) -> str:
        """The kind of event (a topic or subscription type)."""
        ...

    def headers(
        self, settings: Any, events: Sequence[Event], attempt_number: int
    ) -> Mapping[str, str]:
        """Provider headers besides the signature (a timeout hint, an event-name header, a
        delivery id); `settings` is the provider's `SenderSettings`."""
        ...
