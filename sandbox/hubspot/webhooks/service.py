"""The webhook side of one sandbox portal: what the mutation paths call, what admin reads.

`record(change)` turns a CRM change into events for the active subscriptions and hands them to
the shared outbox (`sandbox.common.webhooks`), which batches, signs, sends and retries. Settings live in the portal config (`HubSpotSandboxConfig.webhooks`)
and are pushed here by `apply`; creation/update times of settings and subscriptions, which only
HubSpot's management API shows, are kept here.
"""

from __future__ import annotations

from typing import Any

from core.clock import Clock
from sandbox.common.webhooks.dispatcher import WebhookDispatcher
from sandbox.common.webhooks.faults import WebhookFaultInjector
from sandbox.common.webhooks.outbox import WebhookOutbox
from sandbox.hubspot.webhooks.events import (
    Change,
    ChangeOrigin,
    EventContext,
    HubSpotEventShape,
    events_for,
)
from sandbox.hubspot.webhooks.settings import WebhookSettings
from sandbox.hubspot.webhooks.signing import HubSpotSigner

ADMIN_CHANGE_SOURCE = "CRM_UI"
API_CHANGE_SOURCE = "API"


class WebhookService:
    """Subscriptions → events → queue → signed, retried deliveries, for one portal."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.outbox = WebhookOutbox(clock, HubSpotEventShape(), name="hubspot")
        self.settings = WebhookSettings()
        self.portal_id = 0
        self.app_id = 0
        self.user_id = 0
        self.default_secret = ""
        self.settings_times: tuple[int, int] | None = None  # (createdAt, updatedAt) ms
        self.subscription_times: dict[int, tuple[int, int]] = {}

    def apply(
        self,
        settings: WebhookSettings,
        *,
        portal_id: int,
        app_id: int,
        user_id: int,
        default_secret: str,
    ) -> None:
        """Take new settings (from the portal config) and hand them to the dispatcher."""
        now = self.clock.now_ms()
        if settings.target_url is None:
            self.settings_times = None
        elif self.settings_times is None:
            self.settings_times = (now, now)
        elif _settings_view(settings) != _settings_view(self.settings):
            self.settings_times = (self.settings_times[0], now)
        old = {s.id: s for s in self.settings.subscriptions}
        times: dict[int, tuple[int, int]] = {}
        for sub in settings.subscriptions:
            assert sub.id is not None
            prev = self.subscription_times.get(sub.id)
            if prev is None or old.get(sub.id) is None:
                times[sub.id] = (now, now)
            elif old[sub.id] != sub:
                times[sub.id] = (prev[0], now)
            else:
                times[sub.id] = prev
        self.subscription_times = times
        self.settings = settings
        self.portal_id, self.app_id, self.user_id = portal_id, app_id, user_id
        self.default_secret = default_secret
        signer = HubSpotSigner(settings.signature_version, settings.legacy_signature)
        self.outbox.configure(settings, signer, self.secret)

    def reset(self) -> None:
        """Drop queued events, the delivery log and injected faults (a portal reset)."""
        self.outbox.reset()
        self.settings_times = None
        self.subscription_times = {}

    @property
    def active(self) -> bool:
        """Whether changes produce events (a target is set and sending is enabled)."""
        return self.settings.active

    @property
    def secret(self) -> str:
        return self.settings.client_secret or self.default_secret

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self.outbox.dispatcher

    @property
    def faults(self) -> WebhookFaultInjector:
        return self.outbox.faults

    def _context(self) -> EventContext:
        return EventContext(self.portal_id, self.app_id, self.outbox.next_event_id)

    def record(self, change: Change) -> None:
        """Queue the events of one change (no-op unless a target is configured)."""
        if not self.active:
            return
        self.outbox.send(events_for(change, self.settings, self._context()))

    def api_origin(self) -> ChangeOrigin:
        """A write through the public API by this app: `changeSource` API, `sourceId` the app."""
        return ChangeOrigin(API_CHANGE_SOURCE, str(self.app_id))

    def admin_origin(self, body: dict[str, Any]) -> ChangeOrigin:
        """A write through the admin interface: a portal user in the CRM UI unless the body
        names another `change_source` / `source_id` (e.g. IMPORT, or API to mimic an app)."""
        source = str(body.get("change_source") or ADMIN_CHANGE_SOURCE)
        default_id = f"userId:{self.user_id}" if source != API_CHANGE_SOURCE else str(self.app_id)
        source_id = body.get("source_id", default_id)
        return ChangeOrigin(source, None if source_id is None else str(source_id))


def _settings_view(settings: WebhookSettings) -> tuple[Any, ...]:
    """The part of the settings HubSpot's settings API shows (target and throttling)."""
    return (settings.target_url, settings.max_concurrent_requests, settings.throttling_period)
