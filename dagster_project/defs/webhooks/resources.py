"""The webhook resource: the inbox, the routes and the event processor, from the environment.

Sensors and ops get everything webhook-related from here; they never build an inbox or load a
routes file themselves. Each field overrides one setting (tests use them); empty means the
environment's value.
"""

import logging

import dagster as dg

from core.settings import Settings, get_settings
from events.handlers import PlatformServices
from events.routing import EventProcessor, RouteTable, load_routes_for
from inbox import Inbox


class WebhooksResource(dg.ConfigurableResource):
    """Entry point to the webhook inbox for sensors and jobs."""

    data_dir: str | None = None
    inbox_url: str | None = None
    routes_path: str | None = None
    retry_schedule: str | None = None
    dispatch_timeout_s: float | None = None

    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.data_dir:
            overrides["DATA_DIR"] = self.data_dir
        if self.inbox_url:
            overrides["INBOX_DATABASE_URL"] = self.inbox_url
        if self.routes_path:
            overrides["WEBHOOK_ROUTES_PATH"] = self.routes_path
        if self.retry_schedule:
            overrides["WEBHOOK_RETRY_SCHEDULE"] = self.retry_schedule
        if self.dispatch_timeout_s:
            overrides["WEBHOOK_DISPATCH_TIMEOUT_S"] = self.dispatch_timeout_s
        return get_settings(**overrides)

    def inbox(self, settings: Settings | None = None) -> Inbox:
        return Inbox.from_settings(settings or self.settings())

    def routes(self, settings: Settings | None = None) -> RouteTable:
        return load_routes_for(settings or self.settings())

    def processor(self, logger: logging.Logger | None = None) -> EventProcessor:
        settings = self.settings()
        return EventProcessor(
            self.inbox(settings),
            self.routes(settings),
            PlatformServices(settings),
            retry_schedule=settings.webhook_retry_schedule,
            logger=logger,
        )
