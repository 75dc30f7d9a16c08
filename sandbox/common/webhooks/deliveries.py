"""The delivery log: one record per batch of events, with every attempt and its outcome.

Bounded (oldest finished records go first) and rendered for `GET /_sandbox/webhooks/deliveries`.
Callers hold the dispatcher's lock; this module has no locking of its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.common.webhooks.transport import AttemptResult
from sandbox.common.webhooks.wire import Event, EventShape

STATUSES = ("queued", "in_flight", "retrying", "delivered", "failed", "discarded")
FINISHED = ("delivered", "failed", "discarded")


@dataclass
class Delivery:
    """A batch of events (up to the settings' batch size) and its delivery history."""

    id: int
    events: list[Event]
    created_ms: int
    status: str = "queued"
    attempts: list[AttemptResult] = field(default_factory=list)
    next_attempt_ms: int | None = None
    target_url: str | None = None

    def body_for(self, shape: EventShape, attempt_number: int) -> bytes:
        """The bytes sent on this attempt, in the provider's shape."""
        return shape.body(self.events, attempt_number)

    def to_json(
        self, shape: EventShape, include_events: bool = False, include_body: bool = False
    ) -> dict[str, Any]:
        last = self.attempts[-1] if self.attempts else None
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "target_url": self.target_url,
            "created_at_ms": self.created_ms,
            "event_count": len(self.events),
            "event_ids": [shape.event_id(e) for e in self.events],
            "subscription_types": sorted({shape.event_type(e) for e in self.events}),
            "attempt_count": len(self.attempts),
            "response_code": last.status_code if last else None,
            "error": last.error if last else None,
            "next_attempt_at_ms": self.next_attempt_ms,
            "attempts": [a.to_json() for a in self.attempts],
        }
        if include_events:
            out["events"] = self.events
        if include_body and last is not None:
            # the same serialiser on the same events gives back the exact bytes that were sent
            out["last_body"] = self.body_for(shape, last.attempt_number).decode()
            out["last_headers"] = last.headers
        return out


class DeliveryLog:
    """Deliveries by id, in creation order, keeping at most `max_records`."""

    def __init__(self, max_records: int = 10_000) -> None:
        self.max_records = max_records
        self._records: OrderedDict[int, Delivery] = OrderedDict()
        self._next_id = 1

    def new(self, events: list[Event], created_ms: int) -> Delivery:
        delivery = Delivery(self._next_id, events, created_ms)
        self._next_id += 1
        self._records[delivery.id] = delivery
        self._evict()
        return delivery

    def _evict(self) -> None:
        excess = len(self._records) - self.max_records
        if excess <= 0:
            return
        for rid in [r.id for r in self._records.values() if r.status in FINISHED][:excess]:
            del self._records[rid]

    def get(self, delivery_id: int) -> Delivery | None:
        return self._records.get(delivery_id)

    def clear(self) -> None:
        self._records.clear()

    def clear_finished(self) -> int:
        finished = [rid for rid, r in self._records.items() if r.status in FINISHED]
        for rid in finished:
            del self._records[rid]
        return len(finished)

    def __iter__(self) -> Iterator[Delivery]:
        return iter(self._records.values())

    def select(self, status: str | None, since_id: int, limit: int) -> list[Delivery]:
        out = []
        for record in self._records.values():
            if record.id <= since_id or (status and record.status != status):
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for record in self._records.values():
            counts[record.status] += 1
        return counts
