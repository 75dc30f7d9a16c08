"""What the inbox stores and hands back: plain frozen records, no I/O.

`InboundEvent` is what the receiver writes; `StoredEvent` is the same event with its row id and
processing state, as the sensor reads it; `DeadLetter` is an event that ran out of retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATUSES = ("pending", "dispatched", "processed", "failed", "dead")


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One event to store; a HubSpot batch gives several, every other delivery one."""

    provider: str
    integration_id: str
    delivery_id: str  # idempotency key, unique per (provider, integration_id)
    event_type: str
    object_type: str | None
    object_id: str | None
    payload: bytes  # the event's own JSON
    headers: dict[str, str]  # safe headers only (no Authorization, Cookie, API keys)
    verification: str  # the scheme that verified it, e.g. "hubspot-v3"
    received_at: datetime  # UTC, from core.clock


@dataclass(frozen=True, slots=True)
class StoredEvent(InboundEvent):
    """An inbox row: the event plus its id (the sensor's cursor) and processing state."""

    id: int
    status: str  # pending | dispatched | processed | failed | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    run_key: str | None


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
