"""Which integrations accept webhooks, with their secrets, cached briefly per process.

The hot path must not read the control database (and decrypt a secret) on every delivery, yet a
deleted or disabled integration must stop being accepted within seconds: entries live
`ttl_s` (5 s by default), unknown ids `negative_ttl_s` (1 s). Secrets stay in memory only
here, never in a log line, an error or a repr.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from core.errors import IntegrationError, NotFoundError
from core.settings import Settings
from pipelines.registry import IntegrationRegistry
from sources.provider import ProviderRegistry, providers

DEFAULT_SECRET_KINDS = ("webhook_secret",)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """An integration that may receive deliveries, and the secret that verifies them."""

    integration_id: str
    provider: str
    secret: str | None = field(repr=False)
    # The signature versions it accepts (config `webhook_signature_versions`); None: the
    # scheme's default.
    signature_versions: tuple[str, ...] | None = None


class DirectoryUnavailable(Exception):
    """The control database or the vault could not answer: the receiver answers 503."""


class IntegrationDirectory:
    """Cached `integration id -> WebhookTarget | None` over the registry and its vault."""

    def __init__(
        self,
        registry: IntegrationRegistry,
        settings: Settings,
        *,
        ttl_s: float = 5.0,
        negative_ttl_s: float = 1.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        provider_registry: ProviderRegistry = providers,
    ) -> None:
        self._registry = registry
        self._providers = provider_registry
        self._settings = settings
        self._ttl = ttl_s
        self._negative_ttl = negative_ttl_s
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[float, WebhookTarget | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IntegrationDirectory(entries={len(self._entries)}, ttl_s={self._ttl})"

    def lookup(self, integration_id: str) -> WebhookTarget | None:
        """The target, or None when no active integration has this id."""
        now = self._monotonic()
        with self._lock:
            cached = self._entries.get(integration_id)
            if cached is not None and cached[0] > now:
                return cached[1]
        target = self._load(integration_id)
        expires = now + (self._ttl if target is not None else self._negative_ttl)
        with self._lock:
            self._entries[integration_id] = (expires, target)
            self._entries.move_to_end(integration_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return target

    def invalidate(self, integration_id: str | None = None) -> None:
        """Forget one entry (or all): this process sees the change at once, others within ttl."""
        with self._lock:
            if integration_id is None:
                self._entries.clear()
            else:
                self._entries.pop(integration_id, None)

    def _load(self, integration_id: str) -> WebhookTarget | None:
        try:
            integration = self._registry.get(integration_id)
        except NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any failure of the control database
            raise DirectoryUnavailable(
                f"control database unavailable: {type(exc).__name__}"
            ) from exc
        if integration.status == "disabled":
            return None
        try:
            secret = self._secret(integration_id, integration.type)
        except IntegrationError as exc:
            raise DirectoryUnavailable(exc.message) from None
        except Exception as exc:  # noqa: BLE001
            raise DirectoryUnavailable(f"vault unavailable: {type(exc).__name__}") from exc
        versions = integration.config.get("webhook_signature_versions")
        return WebhookTarget(
            integration_id,
            integration.type,
            secret,
            tuple(str(v) for v in versions) if isinstance(versions, list) and versions else None,
        )

    def _secret(self, integration_id: str, provider: str) -> str | None:
        """The verification secret, first found of: the vault kinds the provider's webhook spec
        names (`secret_kinds`), the deployment settings it names (`fallback_secret_settings`),
        then the process-wide WEBHOOK_SECRET."""
        spec = self._providers.get(provider).webhooks if provider in self._providers else None
        kinds = spec.secret_kinds if spec is not None else DEFAULT_SECRET_KINDS
        fallbacks = spec.fallback_secret_settings if spec is not None else ()
        vault = self._registry.vault
        for kind in kinds:
            stored = vault.get(integration_id, kind)
            if stored is not None:
                return stored["value"]
        for name in (*fallbacks, "WEBHOOK_SECRET"):
            value = getattr(self._settings, name, None)
            if value is not None:
                return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return None
