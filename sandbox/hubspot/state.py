"""The whole mutable state of one sandbox portal, owned by one Flask app.

`SandboxState.reset(config)` rebuilds everything (data overlay, tokens, logs, faults) from a
configuration, so one process can be re-seeded between tests.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from core.clock import Clock
from sandbox.common.ratelimit import RateLimiter
from sandbox.common.reqlog import RequestLog
from sandbox.common.tokens import TokenStore
from sandbox.hubspot.associations import AssociationGraph
from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.faults import SearchFaults, hubspot_fault_injector
from sandbox.hubspot.objtypes import ALL_TYPES, ObjectType
from sandbox.hubspot.schema import PropertyRegistry
from sandbox.hubspot.store import ObjectStore
from sandbox.hubspot.tokens import HUBSPOT_TOKENS
from sandbox.hubspot.webhooks.service import WebhookService
from sandbox.hubspot.webhooks.settings import WebhookSettings


class SandboxState:
    """Config, clock, data, credentials, limits, faults and request log of the portal (the
    `AdminHost` of the shared admin routes)."""

    config_model = HubSpotSandboxConfig

    def __init__(self, config: HubSpotSandboxConfig) -> None:
        self.clock = Clock()
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = hubspot_fault_injector()
        self.webhooks = WebhookService(self.clock)
        self.reset(config)

    def reset(self, config: HubSpotSandboxConfig) -> None:
        with self.lock:
            self.config = config
            counts = {t.name: getattr(config, t.name) for t in ALL_TYPES}
            self.stores: dict[str, ObjectStore] = {
                t.name: ObjectStore(t, config, counts[t.name]) for t in ALL_TYPES
            }
            created = config.base_start_ms - 30 * 86_400_000
            self.properties = PropertyRegistry(config.custom_properties, created)
            self.graph = AssociationGraph(
                config.seed, counts, {t.name: t.id_base for t in ALL_TYPES}
            )
            self.tokens = TokenStore(
                private_app_tokens=set(config.private_app_tokens),
                path=Path(config.token_file) if config.token_file else None,
                formats=HUBSPOT_TOKENS,
            )
            self.limiter = RateLimiter(
                config.ten_second_limit,
                config.oauth_ten_second_limit,
                config.daily_limit,
                config.search_per_second,
            )
            self.deny_consent = False
            self.admin_calls = 0
            self.log.clear()
            self.faults.clear()
            self.search_faults = SearchFaults()
            self.webhooks.reset()
            self._apply_webhooks()

    def set_webhook_settings(self, settings: WebhookSettings) -> None:
        """Replace the webhook settings at runtime (admin or HubSpot's webhooks API)."""
        with self.lock:
            self.config = self.config.model_copy(update={"webhooks": settings})
            self._apply_webhooks()

    def _apply_webhooks(self) -> None:
        config = self.config
        self.webhooks.apply(
            config.webhooks,
            portal_id=config.portal_id,
            app_id=config.app_id,
            user_id=config.user_id,
            default_secret=config.oauth_client_secret,
        )

    def store(self, otype: ObjectType) -> ObjectStore:
        return self.stores[otype.name]

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def visible_ms(self, now_ms: int) -> int:
        """When a write made now becomes visible to search (plus its own variable lag when
        that search fault is armed)."""
        return now_ms + self.config.search_index_lag_ms + self.search_faults.lag_ms()

    def day(self) -> str:
        return datetime.fromtimestamp(self.clock.time(), tz=UTC).strftime("%Y-%m-%d")
