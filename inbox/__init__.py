"""The durable webhook inbox (see docs/webhooks.md)."""

from inbox.models import (
    STATUSES,
    AppendResult,
    DeadLetter,
    InboundEvent,
    InboxUnavailable,
    Requeued,
    StoredEvent,
)
from inbox.store import Inbox

__all__ = [
    "STATUSES",
    "AppendResult",
    "DeadLetter",
    "InboundEvent",
    "Inbox",
    "InboxUnavailable",
    "Requeued",
    "StoredEvent",
]
