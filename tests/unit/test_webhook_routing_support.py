"""Helpers for the webhook routing, sensor and end-to-end tests (no tests in this module):
inbound events shaped like the receiver stores them, a real inbox, routes files on disk."""

from __future__ import annotations

import itertools
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import clock
from inbox import InboundEvent, Inbox, StoredEvent

HUBSPOT_OBJECT_TYPES = {"contact": "contacts", "company": "companies", "deal": "deals"}
_event_ids = itertools.count(1_000)


def hubspot_event(
    integration_id: str,
    subscription_type: str,
    object_id: int | str,
    *,
    occurred_at_ms: int | None = None,
    event_id: int | None = None,
    **fields: Any,
) -> InboundEvent:
    """One HubSpot webhook event as the receiver stores it (one row per event of a batch)."""
    event_id = next(_event_ids) if event_id is None else event_id
    body = {
        "eventId": event_id,
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": clock.now_ms() if occurred_at_ms is None else occurred_at_ms,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": int(object_id),
        "changeSource": "CRM",
        **fields,
    }
    return InboundEvent(
        provider="hubspot",
        integration_id=integration_id,
        delivery_id=str(event_id),
        event_type=subscription_type,
        object_type=HUBSPOT_OBJECT_TYPES.get(subscription_type.split(".")[0]),
        object_id=str(object_id),
        payload=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        verification="hubspot-v3",
        received_at=clock.now(),
    )


def inbound(
    provider: str,
    integration_id: str,
    event_type: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    payload: bytes = b"{}",
) -> InboundEvent:
    return InboundEvent(
        provider=provider,
        integration_id=integration_id,
        delivery_id=f"d-{next(_event_ids)}",
        event_type=event_type,
        object_type=object_type,
        object_id=object_id,
        payload=payload,
        headers={},
        verification="test",
        received_at=datetime.now(UTC),
    )


def sqlite_inbox(data_dir: Path) -> Inbox:
    inbox = Inbox(f"sqlite:///{data_dir / 'inbox.sqlite'}")
    inbox.create_schema()
    return inbox


def store(inbox: Inbox, *events: InboundEvent) -> list[StoredEvent]:
    """Append events and return them as the inbox stored them, in id order."""
    inbox.append(list(events))
    keys = {(e.provider, e.integration_id, e.delivery_id) for e in events}
    rows = inbox.fetch_ready(limit=100_000)
    return [r for r in rows if (r.provider, r.integration_id, r.delivery_id) in keys]


def write_routes(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path
