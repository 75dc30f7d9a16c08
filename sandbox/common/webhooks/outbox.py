"""One sandbox app's webhook outbox: the settings in force, the signer and secret, delivery
faults, the dispatcher, and event ids that never repeat across restarts.

A provider's sandbox turns its own changes into events (its `EventShape`'s dicts) and calls
`send`; the outbox queues them only while a target is set and sending is on. It never builds a
provider's events and never names a provider.
"""

from __future__ import annotations

import itertools
import time

from core.clock import Clock
from sandbox.common.webhooks.dispatcher import WebhookDispatcher
from sandbox.common.webhooks.faults import WebhookFaultInjector
from sandbox.common.webhooks.settings import SenderSettings
from sandbox.common.webhooks.wire import Event, EventShape, Signer


class WebhookOutbox:
    """Settings → dispatcher; events in, signed and retried deliveries out."""

    def __init__(self, clock: Clock, shape: EventShape, *, name: str = "sandbox") -> None:
        self.clock = clock
        self.shape = shape
        self.faults = WebhookFaultInjector()
        self.dispatcher = WebhookDispatcher(clock, self.faults, shape, name=name)
        # event ids must not repeat across sandbox restarts (receivers de-duplicate on them), so
        # they start from the real wall clock in microseconds, never the settable sandbox clock
        self._event_ids = itertools.count(time.time_ns() // 1000)
        self.settings: SenderSettings = SenderSettings()
        self.secret = ""

    def configure(self, settings: SenderSettings, signer: Signer, secret: str) -> None:
        """Take new settings (and the signer and secret they imply)."""
        self.settings = settings
        self.secret = secret
        self.dispatcher.configure(settings, signer, secret)

    def reset(self) -> None:
        """Drop queued events, the delivery log and injected faults."""
        self.dispatcher.reset()
        self.faults.clear()

    @property
    def active(self) -> bool:
        """Whether changes should produce events (a target is set and sending is enabled)."""
        return self.settings.active

    def next_event_id(self) -> int:
        return next(self._event_ids)

    def send(self, events: list[Event]) -> None:
        """Queue events for delivery (no-op unless active)."""
        if self.active:
            self.dispatcher.enqueue(events)
