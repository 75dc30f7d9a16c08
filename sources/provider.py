"""What a provider is, as one typed object, and the registry that finds every provider.

A provider is a package `sources/<name>/` whose `__init__.py` exposes `PROVIDER = Provider(...)`:
its entities as data, its config schema (secret fields typed `SecretStr`, so they can only go to
the vault), its host policy, its auth flows, a client factory, a dlt source factory (full,
incremental and by ids), its webhook spec and where its sandbox lives. Generic rooms (runner,
registry, credentials, declarations, events, receiver, Dagster factories) ask this registry and
never name a provider themselves.

Built-in providers are found by scanning the `sources` package; third parties add one through
the `integration_platform.providers` entry point group (`name = "package.module:PROVIDER"`).
This module must never import a provider package at import time (the registry loads lazily),
and never import a room above `sources/`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

from core.errors import ValidationError

if TYPE_CHECKING:
    from core.events import StoredEvent
    from core.settings import Settings
    from sources.common.http import RetryPolicy

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "integration_platform.providers"

# Auth flows a provider may declare; the registry and credentials know how to run each.
OAUTH_CODE = "oauth2_code"  # authorization code + PKCE + refresh (sources/common/oauth.py)
STATIC_TOKEN = "static_token"  # a token pasted by an admin (HubSpot private app, GitHub PAT)


# -- entities -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntitySpec:
    """One extractable entity as the generic rooms see it.

    `tables` names the extra tables that ride along with the entity (association tables,
    child tables); `by_ids` says the source can read named records (`SyncRequest(ids=...)`).
    The entity loads into the table named `name`; `cursor_column` is the warehouse column
    holding the cursor value (dlt's name for it; None: the column is `cursor_field` itself);
    `archived_column`, when set, is the boolean column marking records deleted at the provider
    but kept in the table (None: deleted records leave the table).
    """

    name: str
    cursor_field: str | None
    primary_key: tuple[str, ...] = ("id",)
    incremental: bool = True
    by_ids: bool = False
    tables: tuple[str, ...] = ()
    description: str = ""
    cursor_column: str | None = None
    archived_column: str | None = None

    @property
    def warehouse_cursor_column(self) -> str | None:
        """The warehouse column the entity's cursor value lands in (None: no cursor)."""
        return self.cursor_column or self.cursor_field


# -- config -------------------------------------------------------------------------------------


class ProviderConfig(BaseModel):
    """Base of every provider's config schema.

    Fields typed `SecretStr` (at any depth) are secrets: the registry moves them to the vault
    and keeps only the plain fields in the integration's config. Extra keys are allowed (labels
    such as a portal or an org name), but a key whose normalised spelling names a secret field
    or looks like a credential, at any depth, is vaulted too (see the registry).
    """

    model_config = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True)
class HostPolicy:
    """Which base URLs an integration's config may name (DESIGN: "Host policy").

    `fields` are the config fields holding URLs; each must be https and its host one of `hosts`
    or end with one of `suffixes`; `any_public_host` admits any host that resolves to public
    addresses only (self-hosted sites). Local hosts pass only when the deployment allows them.
    """

    fields: tuple[str, ...] = ()
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_public_host: bool = False


# -- auth ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthEndpoints:
    """The data that drives the generic OAuth 2.0 client (`sources/common/oauth.py`)."""

    authorize_url: str
    token_url: str
    default_scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    # Token-endpoint error codes -> what a data engineer should do about them.
    error_hints: Mapping[str, str] = field(default_factory=dict)
    # Extra fields of the token response kept in the TokenSet's `extra` (e.g. HubSpot's hub_id).
    extra_token_fields: tuple[str, ...] = ()
    # Token-response fields that are URLs the platform will call (e.g. an `instance_url`): held
    # to the provider's host policy before the token set is accepted.
    url_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthSpec:
    """The auth flows a provider supports and where its OAuth app comes from.

    `client_id_setting` / `client_secret_setting` name the deployment settings holding the
    platform's OAuth app (an integration's own `client_id` / `client_secret` config wins);
    `oauth_endpoints(config, settings)` gives the endpoints for one integration's config.
    """

    flows: tuple[str, ...]
    client_id_setting: str | None = None
    client_secret_setting: str | None = None
    oauth_endpoints: Callable[[ProviderConfig, Settings], OAuthEndpoints] | None = None
    # The vault kind a static token is stored under, and how a config field maps onto it.
    static_token_field: str | None = None


class TokenSource(Protocol):
    """What an API client asks for a bearer token (implemented in `pipelines/credentials.py`)."""

    def access_token(self) -> str: ...

    def force_refresh(self) -> str: ...


@dataclass
class ClientContext:
    """Everything a provider's client factory needs for one integration."""

    integration_id: str
    config: ProviderConfig
    tokens: TokenSource
    settings: Settings
    retry: RetryPolicy | None = None
    # An httpx request hook holding every request (and redirect hop) to the provider's host
    # policy; clients pass it to the one HTTP client (`ApiClient(request_guard=...)`).
    request_guard: Callable[[Any], None] | None = None


class ProviderClient(Protocol):
    """The part of an API client the runner relies on: request counters and close()."""

    @property
    def stats(self) -> Any: ...

    def close(self) -> None: ...


# -- extraction ---------------------------------------------------------------------------------


@dataclass
class EntityReport:
    """What one entity's extraction did, for run metadata and the sync-run log.

    `rows` counts live records read, `archived_rows` the archived ones, in every mode; a by-id
    read also fills `ids_requested` and `missing_ids` (ids found neither live nor archived).
    """

    mode: str = "incremental"
    rows: int = 0
    archived_rows: int = 0
    association_rows: dict[str, int] = field(default_factory=dict)
    cursor_ms: int | None = None
    ids_requested: int = 0
    missing_ids: list[str] = field(default_factory=list)


ProgressCallback = Callable[[str, int], None]


@dataclass
class SourceRequest:
    """What the runner asks a provider's dlt source for.

    `ids` (with exactly one entity) reads those records by id and must not move any bookmark.
    `reports` is filled with one `EntityReport` per entity as extraction runs. `config` is the
    integration's config parsed by the provider's schema (source options such as a lookback).
    """

    entities: list[str]
    full_refresh: bool = False
    filters: dict[str, Any] | None = None
    ids: list[str] | None = None
    reports: dict[str, EntityReport] = field(default_factory=dict)
    progress: ProgressCallback | None = None
    config: ProviderConfig | None = None


# -- webhooks -----------------------------------------------------------------------------------


# What an `apply` does to one raw row (see `ApplyRules`).
APPLY_SET = "set"  # one property column takes the event's value (if the row is not newer)
APPLY_ARCHIVE = "archive"  # the row is marked archived (if the row is not newer)
APPLY_ERASE = "erase"  # archived and every property column erased, whatever the row's age


@dataclass(frozen=True)
class RawChange:
    """One event's change to one raw row, as a provider's apply rules read it from the payload."""

    event_id: int
    object_id: str
    kind: str  # APPLY_SET | APPLY_ARCHIVE | APPLY_ERASE
    occurred_at: datetime
    property_name: str | None = None  # APPLY_SET only
    value: str | None = None  # APPLY_SET only


@dataclass(frozen=True)
class ApplyRules:
    """A provider's rules for writing an event straight into its raw table (`action: apply`).

    The generic writer (`events/handlers/apply.py`) owns the SQL and the ordering guard; raw
    tables of an entity that takes `apply` carry `id`, `updated_at`, `archived`, `archived_at`.

    - `event_suffixes`: an apply route may only name event types ending with one of these.
    - `change(event)`: the `RawChange` a stored event describes, or None when its payload does
      not say enough (the named record is then read by id instead).
    - `valid_id(object_id)`: an id the writer may use (only such ids ever reach SQL text).
    - `property_prefix`: raw columns holding the record's properties are `<prefix><name>`;
      `APPLY_ERASE` nulls every one of them.
    - `modification_property(entity)`: the property every `APPLY_SET` also moves to the event's
      time (the entity's own modification stamp), or None; `timestamp_text` spells that time.
    """

    event_suffixes: tuple[str, ...]
    change: Callable[[StoredEvent], RawChange | None]
    valid_id: Callable[[str], bool]
    property_prefix: str = ""
    modification_property: Callable[[str], str | None] = lambda entity: None
    timestamp_text: Callable[[datetime], str] = lambda moment: moment.isoformat()

    def property_column(self, name: str) -> str:
        return f"{self.property_prefix}{name}"

    def is_property_column(self, column: str) -> bool:
        return column.startswith(self.property_prefix) if self.property_prefix else False

    def accepts(self, event_pattern: str) -> bool:
        """True when an apply route may name this event type (or pattern)."""
        return event_pattern.endswith(self.event_suffixes)


@dataclass(frozen=True)
class WebhookSpec:
    """How a provider's webhook deliveries are verified, parsed and understood.

    - `schemes`: verification scheme names (modules in `webhook_receiver/verification/`) in
      the order they are tried; the first whose headers are present verifies.
    - `media_types`: content types the provider sends ("" = none).
    - `parse(request, media_type, scheme)`: a verified delivery -> `ParsedEvent`s, raising
      `PayloadError` for a body the provider would not send.
    - `entity_for(object_type)`: the entity an event's object type names (None: unknown).
    - `secret_kinds`: vault kinds tried for the verification secret, in order, before the
      deployment's fallbacks (`fallback_secret_settings`, then WEBHOOK_SECRET).
    - `apply`: the provider's `ApplyRules` for writing an event straight into a raw table, or
      None (then routes may not use `action: apply`).
    - `openapi`: headers, request body and component schemas for the OpenAPI document.
    """

    schemes: tuple[str, ...]
    media_types: frozenset[str]
    parse: Callable[..., list[Any]]
    entity_for: Callable[[str | None], str | None] = lambda object_type: None
    secret_kinds: tuple[str, ...] = ("webhook_secret",)
    fallback_secret_settings: tuple[str, ...] = ()
    apply: ApplyRules | None = None
    # Request headers kept with a stored event besides the generic ones and the signature
    # headers its schemes document (added by the receiver): delivery ids, event names, topics.
    # The inbox keeps an allow-list, never a deny-list.
    stored_headers: tuple[str, ...] = ()
    openapi: Mapping[str, Any] = field(default_factory=dict)


# -- the provider -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """One provider, as data. Generic rooms only ever talk to this object."""

    name: str
    title: str
    config_schema: type[ProviderConfig]
    hosts: HostPolicy
    auth: AuthSpec
    entities: Mapping[str, EntitySpec] = field(default_factory=dict)
    default_entities: tuple[str, ...] = ()
    client: Callable[[ClientContext], ProviderClient] | None = None
    source: Callable[[Any, SourceRequest], Any] | None = None
    webhooks: WebhookSpec | None = None
    # "module:attribute" of the provider's sandbox kit (loaded lazily: sources never import
    # the sandbox room at import time).
    sandbox: str | None = None
    # Extra secret config keys recognised under other spellings (normalised, see registry).
    description: str = ""

    @property
    def extracts(self) -> bool:
        """True when the platform can sync this provider (it has entities, client, source)."""
        return bool(self.entities) and self.client is not None and self.source is not None

    def entity(self, name: str) -> EntitySpec:
        try:
            return self.entities[name]
        except KeyError:
            raise ValidationError(
                f"unknown {self.title} entity {name!r}",
                provider=self.name,
                hint=f"choose from {', '.join(self.entities) or '(none yet)'}",
            ) from None

    def resolve_entities(self, names: Sequence[str] | None) -> list[str]:
        """Entities selected by name (the defaults, else all, when none); unknown names fail."""
        if not names:
            return list(self.default_entities or self.entities)
        unknown = [n for n in names if n not in self.entities]
        if unknown:
            raise ValidationError(
                f"unknown {self.title} entities: {', '.join(unknown)}",
                provider=self.name,
                hint=f"choose from {', '.join(self.entities) or '(none yet)'}",
            )
        return list(names)

    def parse_config(self, config: Mapping[str, Any]) -> ProviderConfig:
        """The integration's config validated by the provider's schema (a clear error if not)."""
        from pydantic import ValidationError as PydanticValidationError

        try:
            return self.config_schema.model_validate(dict(config))
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            raise ValidationError(
                f"invalid {self.title} config: {where}: {first['msg']}",
                provider=self.name,
                hint=f"fields: {', '.join(self.config_schema.model_fields)}",
            ) from None

    def load_sandbox(self) -> Any:
        """The provider's sandbox kit object, or None when it has none."""
        if not self.sandbox:
            return None
        module, _, attribute = self.sandbox.partition(":")
        return getattr(importlib.import_module(module), attribute)


def secret_fields(schema: type[BaseModel]) -> set[str]:
    """Top-level fields of a config schema whose type is (or contains) `SecretStr`."""
    return {name for name, info in schema.model_fields.items() if _holds_secret(info.annotation)}


def _holds_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(secret_fields(annotation))
    return any(_holds_secret(arg) for arg in getattr(annotation, "__args__", ()) or ())


# -- the registry -------------------------------------------------------------------------------


class ProviderRegistry:
    """Every provider the platform knows: built-ins under `sources/`, then entry points."""

    def __init__(self, providers: Iterable[Provider] | None = None) -> None:
        self._providers: dict[str, Provider] | None = (
            {p.name: p for p in providers} if providers is not None else None
        )
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Provider]:
        if self._providers is not None:
            return self._providers
        with self._lock:
            if self._providers is None:
                found: dict[str, Provider] = {}
                for provider in (*_builtin_providers(), *_entry_point_providers()):
                    found.setdefault(provider.name, provider)
                self._providers = dict(sorted(found.items()))
        return self._providers

    def register(self, provider: Provider) -> None:
        """Add (or replace) a provider at runtime, e.g. from a test or a plugin's setup."""
        self._load()[provider.name] = provider

    def names(self) -> list[str]:
        return list(self._load())

    def all(self) -> list[Provider]:
        return list(self._load().values())

    def get(self, name: str) -> Provider:
        providers = self._load()
        if name not in providers:
            raise ValidationError(
                f"unknown provider {name!r}",
                hint=f"one of {', '.join(providers) or '(none registered)'}",
            )
        return providers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def receiving_webhooks(self) -> list[Provider]:
        """Providers with a webhook spec: exactly those the receiver has an endpoint for."""
        return [p for p in self._load().values() if p.webhooks is not None]


def _builtin_providers() -> list[Provider]:
    import sources

    found = []
    for info in pkgutil.iter_modules(sources.__path__):
        if not info.ispkg or info.name == "common":
            continue
        module = importlib.import_module(f"sources.{info.name}")
        provider = getattr(module, "PROVIDER", None)
        if isinstance(provider, Provider):
            found.append(provider)
    return found


def _entry_point_providers() -> list[Provider]:
    found = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            provider = point.load()
        except Exception:  # noqa: BLE001 - a broken plugin must not take the platform down
            log.exception("could not load provider entry point %s", point.value)
            continue
        if isinstance(provider, Provider):
            found.append(provider)
        else:
            log.error("entry point %s is not a Provider", point.value)
    return found


providers = ProviderRegistry()


def get_provider(name: str) -> Provider:
    """The registered provider called `name` (a clear error for an unknown one)."""
    return providers.get(name)
