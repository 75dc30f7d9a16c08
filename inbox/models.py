"""What the inbox stores and hands back: plain frozen records, no I/O.

`InboundEvent` (what the receiver writes) and `StoredEvent` (the same event with its row id and
processing state, as the sensor reads it) are shared shapes from `core.events`; here live the
inbox's own records: `DeadLetter` is an event that ran out of retries, `Requeued` and
`AppendResult` say what an inbox operation did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.events import InboundEvent, StoredEvent

__all__ = [
    "STATUSES",
    "AppendResult",
    "DeadLetter",
    "InboundEvent",
    "InboxUnavailable",
    "Requeued",
    "StoredEvent",
]

STATUSES = ("pending", "dispatched", "processed", "failed", "dead")


@dataclass(frozen=True, slots=True)
class DeadLetter(InboundEvent):
    """An event whose processing failed after the last retry, with the reason.

    `event_id` is the event's inbox row id; replaying a dead letter is addressed by it.
    """

    event_id: int
    reason: str
    attempts: int
    dead_at: datetime


@dataclass(frozen=True, slots=True)
class Requeued:
    """What `Inbox.requeue` did: ids back in the ready set, and ids out of attempts (dead)."""

    requeued: list[int]
    dead_lettered: list[int]


@dataclass(frozen=True, slots=True)
class AppendResult:
    inserted: int
    duplicates: int


class InboxUnavailable(Exception):
    """The inbox could not commit (or read): the receiver answers 503 and the provider retries."""
