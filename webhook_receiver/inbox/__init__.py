"""The durable webhook inbox (see /work/coord/INBOX_CONTRACT.md and docs/webhooks.md)."""

from webhook_receiver.inbox.models import (
    STATUSES,
    AppendResult,
    DeadLetter,
    InboundEvent,
    InboxUnavailable,
    Requeued,
    StoredEvent,
)
from webhook_receiver.inbox.store import Inbox

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
