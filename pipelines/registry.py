"""The integration registry: create, authorize, inspect and retire integrations of any provider.

Every operation is audited with its actor. The provider comes from the provider registry
(`sources/provider.py`) by the integration's type; this module names none. Config is split by
the provider's schema: secret fields (and credential-looking keys, whatever their spelling or
nesting) go only into the vault (encrypted before the first write); the plain rest is validated
by the schema and its URLs by the provider's host policy. Config, audit details, logs and errors
never carry a secret. OAuth callbacks are bound to a single-use, ten-minute state with a PKCE
verifier kept encrypted until the exchange.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any, get_args
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from authlib.common.security import generate_token

from core.clock import clock
from core.errors import AuthenticationError, IntegrationError, NotFoundError, ValidationError
from core.settings import Settings
from pipelines.audit import AuditLog
from pipelines.control_db import ControlDatabase
from pipelines.credentials import (
    OAUTH_TOKEN,
    STATIC_TOKEN,
    AccessTokenProvider,
    OAuthTokenProvider,
    StaticTokenProvider,
)
from pipelines.models import Integration, IntegrationStatus, from_epoch
from pipelines.vault import CredentialVault
from sources.common.hosts import check_config_hosts, check_url, normalise_key
from sources.common.oauth import OAuthClient, pkce_pair
from sources.common.tokens import TokenSet
from sources.provider import OAUTH_CODE, Provider, ProviderRegistry, providers, secret_fields
from sources.provider import STATIC_TOKEN as STATIC_TOKEN_FLOW

log = logging.getLogger(__name__)

OAUTH_STATE_TTL_S = 600
INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Config keys whose values are secrets: they are moved into the vault, never kept in config.
SECRET_CONFIG_KEYS = frozenset(
    {
        "client_secret",
        "app_password",
        "password",
        "api_key",
        "access_token",
        "refresh_token",
        "webhook_secret",
    }
)
# Normalised key endings that always mean a credential, whatever the provider.
SECRET_KEY_SUFFIXES = ("_secret", "_token", "_password", "_private_key", "_api_key")
SECRET_KEY_NAMES = frozenset({"secret", "token", "private_key", "passphrase"})


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class IntegrationRegistry:
    """The one place integrations and their credentials are created, changed and removed."""

    def __init__(
        self,
        db: ControlDatabase,
        vault: CredentialVault,
        audit: AuditLog,
        settings: Settings,
        provider_registry: ProviderRegistry | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.audit = audit
        self.settings = settings
        self.providers = provider_registry or providers

    @classmethod
    def from_settings(cls, settings: Settings) -> IntegrationRegistry:
        db = ControlDatabase.from_settings(settings)
        db.create_all()
        return cls(db, CredentialVault(db, settings.encryption_keys()), AuditLog(db), settings)

    def __repr__(self) -> str:
        return f"IntegrationRegistry(db={self.db!r})"

    # -- lifecycle --------------------------------------------------------------------------

    def create(
        self,
        *,
        organization_id: str,
        user_id: str,
        type: str,
        name: str,
        config: dict[str, Any] | None = None,
        integration_id: str | None = None,
        actor: str = "system",
    ) -> Integration:
        if not isinstance(type, str) or type not in self.providers:
            raise ValidationError(
                f"unknown integration type {type!r}",
                hint=f"one of {', '.join(self.providers.names()) or '(none registered)'}",
            )
        provider = self.providers.get(type)
        integration_id = integration_id or f"{type}-{secrets.token_hex(6)}"
        if not INTEGRATION_ID.match(integration_id):
            raise ValidationError(
                f"invalid integration id {integration_id!r}",
                hint="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
            )
        plain_config, secret_config = self._checked_config(provider, config or {})
        now = clock.time()
        try:
            with self.db.begin() as conn:
                conn.execute(
                    sa.insert(self.db.integrations).values(
                        id=integration_id,
                        organization_id=organization_id,
                        user_id=user_id,
                        type=type,
                        name=name,
                        status="pending_auth",
                        config=plain_config,
                        created_at=now,
                        updated_at=now,
                    )
                )
                self._store_secret_config(integration_id, secret_config)
                self.audit.record(
                    "integration.created",
                    actor=actor,
                    integration_id=integration_id,
                    details={
                        "type": type,
                        "name": name,
                        "organization_id": organization_id,
                        "config_fields": sorted(plain_config),
                        "vaulted_fields": sorted(secret_config),
                    },
                )
        except sa.exc.IntegrityError:
            raise ValidationError(f"integration {integration_id} already exists") from None
        return self.get(integration_id)

    def list(self, organization_id: str | None = None) -> list[Integration]:
        t = self.db.integrations
        stmt = sa.select(t).order_by(t.c.created_at, t.c.id)
        if organization_id is not None:
            stmt = stmt.where(t.c.organization_id == organization_id)
        with self.db.read() as conn:
            return [_integration(r._mapping) for r in conn.execute(stmt)]

    def get(self, integration_id: str, organization_id: str | None = None) -> Integration:
        """The integration; with `organization_id`, one of another organisation is reported
        exactly as a missing one, so a tenant cannot learn which other ids exist."""
        t = self.db.integrations
        stmt = sa.select(t).where(t.c.id == integration_id)
        if organization_id is not None:
            stmt = stmt.where(t.c.organization_id == organization_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(
                f"integration {integration_id} does not exist",
                integration_id=integration_id,
                hint="list them with `integrations list`",
            )
        return _integration(row._mapping)

    def delete(self, integration_id: str, actor: str = "system") -> None:
        integration = self.get(integration_id)
        with self.db.begin() as conn:
            self.vault.delete(integration_id)
            conn.execute(
                sa.delete(self.db.oauth_states).where(
                    self.db.oauth_states.c.integration_id == integration_id
                )
            )
            conn.execute(
                sa.delete(self.db.integrations).where(self.db.integrations.c.id == integration_id)
            )
            self.audit.record(
                "integration.deleted",
                actor=actor,
                integration_id=integration_id,
                details={"type": integration.type, "name": integration.name},
            )

    def update_config(
        self, integration_id: str, config: dict[str, Any], actor: str = "system"
    ) -> Integration:
        integration = self.get(integration_id)
        plain_config, secret_config = self._checked_config(self.provider(integration), config)
        with self.db.begin() as conn:
            self._update(conn, integration_id, config=plain_config)
            self._store_secret_config(integration_id, secret_config)
            self.audit.record(
                "integration.config_updated",
                actor=actor,
                integration_id=integration_id,
                details={
                    "config_fields": sorted(plain_config),
                    "vaulted_fields": sorted(secret_config),
                },
            )
        return self.get(integration_id)

    def set_status(
        self, integration_id: str, status: IntegrationStatus, actor: str = "system"
    ) -> Integration:
        if status not in get_args(IntegrationStatus):
            raise ValidationError(
                f"unknown status {status!r}",
                hint=f"one of {', '.join(get_args(IntegrationStatus))}",
            )
        before = self.get(integration_id).status
        with self.db.begin() as conn:
            self._update(conn, integration_id, status=status)
            self.audit.record(
                "integration.status_changed",
                actor=actor,
                integration_id=integration_id,
                details={"from": before, "to": status},
            )
        return self.get(integration_id)

    # -- providers and config ------------------------------------------------------------

    def provider(self, integration: Integration) -> Provider:
        """The provider of an integration (a clear error if it is no longer registered)."""
        try:
            return self.providers.get(integration.type)
        except ValidationError as exc:
            exc.provider = integration.type
            exc.integration_id = integration.id
            raise

    def check_hosts(self, provider: Provider, config: Mapping[str, Any]) -> None:
        """The config's URL fields against the provider's host policy (a 400 if refused)."""
        check_config_hosts(
            config,
            provider.hosts,
            allow_local=self.settings.ALLOW_LOCAL_PROVIDER_HOSTS,
            provider=provider.name,
            title=provider.title,
        )

    def _checked_config(
        self, provider: Provider, config: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(plain, secret): secrets split out by schema, the plain rest validated and policed."""
        if not isinstance(config, Mapping):
            raise ValidationError("config must be an object", provider=provider.name)
        plain, secret = split_secrets(config, secret_names(provider))
        # A config key may never overwrite the stored OAuth token set.
        secret = {(f"config.{k}" if k == OAUTH_TOKEN else k): v for k, v in secret.items()}
        provider.parse_config(plain)
        self.check_hosts(provider, plain)
        return plain, secret

    # -- credentials ------------------------------------------------------------------------

    def authorization_url(
        self,
        integration_id: str,
        redirect_uri: str,
        *,
        actor: str = "system",
        scopes: list[str] | None = None,
    ) -> str:
        integration = self.get(integration_id)
        oauth = self.oauth_client(integration)
        scopes = list(scopes or integration.config.get("scopes") or oauth.endpoints.default_scopes)
        state = generate_token(43)
        verifier, _challenge = pkce_pair()
        digest = state_digest(state)
        ciphertext, fingerprint = self.vault.seal(_state_binding(digest), verifier)
        now = clock.time()
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(self.db.oauth_states).values(
                    state=digest,
                    integration_id=integration_id,
                    code_verifier_ciphertext=ciphertext,
                    key_fingerprint=fingerprint,
                    redirect_uri=redirect_uri,
                    created_at=now,
                    expires_at=now + OAUTH_STATE_TTL_S,
                )
            )
            self.audit.record(
                "oauth.authorization_url_issued",
                actor=actor,
                integration_id=integration_id,
                details={"redirect_uri": redirect_uri, "scopes": scopes},
            )
        return oauth.authorization_url(redirect_uri, scopes, state, verifier)

    def complete_callback(
        self,
        *,
        state: str,
        code: str | None = None,
        error: str | None = None,
        actor: str = "system",
    ) -> Integration:
        pending = self._consume_state(state, actor)
        integration_id = pending["integration_id"]
        provider_name: str | None = None
        try:
            integration = self.get(integration_id)
            provider_name = integration.type
            title = self.provider(integration).title
            if pending["expires_at"] <= clock.time():
                raise AuthenticationError(
                    "the OAuth state has expired",
                    provider=provider_name,
                    integration_id=integration_id,
                    hint="authorization must finish within 10 minutes; request a new auth URL",
                )
            if error:
                raise AuthenticationError(
                    f"{title} refused the authorization: {error[:100]}",
                    provider=provider_name,
                    integration_id=integration_id,
                    hint="the user declined or the app is misconfigured; request a new auth URL",
                )
            if not code:
                raise AuthenticationError(
                    "the OAuth callback carries no code",
                    provider=provider_name,
                    integration_id=integration_id,
                )
            verifier = self.vault.unseal(
                _state_binding(pending["state"]), pending["code_verifier_ciphertext"]
            )
            token_set = self.oauth_client(integration).exchange_code(
                code, pending["redirect_uri"], verifier
            )
        except IntegrationError as exc:
            exc.integration_id = exc.integration_id or integration_id
            exc.provider = exc.provider or provider_name
            self.audit.record(
                "oauth.callback_failed",
                actor=actor,
                integration_id=integration_id,
                details={"error": type(exc).__name__, "reason": exc.message[:200]},
            )
            raise
        return self._store_token_set(integration_id, token_set, actor)

    def complete_callback_url(self, url: str, actor: str = "system") -> Integration:
        """Finish the OAuth flow from the URL the browser was redirected to."""
        query = parse_qs(urlsplit(url).query)

        def param(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        state = param("state")
        if not state:
            raise AuthenticationError(
                "the redirected URL carries no state parameter",
                hint="paste the full URL the browser landed on after authorizing",
            )
        return self.complete_callback(
            state=state, code=param("code"), error=param("error"), actor=actor
        )

    def set_static_token(
        self, integration_id: str, token: str, actor: str = "system"
    ) -> Integration:
        """Store a pasted token (private-app token, personal access token) and activate."""
        integration = self.get(integration_id)
        provider = self.provider(integration)
        if STATIC_TOKEN_FLOW not in provider.auth.flows:
            raise ValidationError(
                f"{provider.title} integrations do not take a pasted token",
                provider=integration.type,
                integration_id=integration_id,
                hint=f"{provider.title} supports: {', '.join(provider.auth.flows) or 'no auth'}",
            )
        token = token.strip()
        if not token:
            raise ValidationError(
                f"the {provider.title} token is empty",
                provider=integration.type,
                integration_id=integration_id,
            )
        kind = static_token_kind(provider)
        with self.db.begin() as conn:
            self.vault.put(integration_id, kind, {"access_token": token})
            self.vault.delete(integration_id, OAUTH_TOKEN)
            self._update(conn, integration_id, status="active")
            self.audit.record(
                f"credentials.{kind}_set",
                actor=actor,
                integration_id=integration_id,
                details={"type": integration.type, "status": "active"},
            )
        return self.get(integration_id)

    # The name the CLI and older callers use (a pasted token is often a private-app token).
    set_private_app_token = set_static_token

    def token_provider(self, integration_id: str) -> AccessTokenProvider:
        integration = self.get(integration_id)
        provider = self.provider(integration)
        kinds = self.vault.kinds(integration_id)
        kind = static_token_kind(provider)
        if STATIC_TOKEN_FLOW in provider.auth.flows and kind in kinds:
            value = self.vault.get(integration_id, kind) or {}
            return StaticTokenProvider(
                value.get("access_token") or value.get("value") or "",
                integration_id=integration_id,
                provider=integration.type,
                label=kind.replace("_", " "),
            )
        if OAUTH_TOKEN in kinds:
            return OAuthTokenProvider(
                integration_id, self.vault, self.oauth_client(integration), self.audit
            )
        raise AuthenticationError(
            "integration has no credentials",
            provider=integration.type,
            integration_id=integration_id,
            hint="authorize it (integrations auth-url) or set a token (integrations set-token)",
        )

    def oauth_client(self, integration: Integration) -> OAuthClient:
        """The OAuth client of the integration's provider and app; its URLs pass host policy."""
        provider = self.provider(integration)
        auth = provider.auth
        if OAUTH_CODE not in auth.flows or auth.oauth_endpoints is None:
            raise ValidationError(
                f"OAuth for {integration.type} integrations is not available",
                provider=integration.type,
                integration_id=integration.id,
                hint=f"{provider.title} supports: {', '.join(auth.flows) or 'no auth'}",
            )
        config = integration.config
        # Config stored before the host policy existed is checked again before any exchange.
        self.check_hosts(provider, config)
        client_id = config.get("client_id") or _setting(self.settings, auth.client_id_setting)
        stored = self.vault.get(integration.id, "client_secret")
        if stored is not None:
            client_secret: str | None = stored["value"]
        else:
            client_secret = _setting(self.settings, auth.client_secret_setting)
        if not client_id or not client_secret:
            settings_names = " and ".join(
                n for n in (auth.client_id_setting, auth.client_secret_setting) if n
            )
            raise AuthenticationError(
                f"no {provider.title} OAuth app configured",
                provider=integration.type,
                integration_id=integration.id,
                hint=(f"set {settings_names}, or " if settings_names else "set ")
                + "client_id/client_secret in the integration's config",
            )
        endpoints = auth.oauth_endpoints(provider.parse_config(config), self.settings)
        return OAuthClient(
            endpoints,
            client_id,
            client_secret,
            provider=provider.name,
            title=provider.title,
            integration_id=integration.id,
            check_url=lambda name, url: check_url(
                url,
                provider.hosts,
                allow_local=self.settings.ALLOW_LOCAL_PROVIDER_HOSTS,
                field=name,
                provider=provider.name,
                title=provider.title,
            ),
        )

    def rotate_keys(self, actor: str = "system") -> int:
        """Re-encrypt every stored secret with the first ENCRYPTION_KEY."""
        count = self.vault.rotate()
        self.audit.record("secrets.rotated", actor=actor, details={"rows": count})
        return count

    # -- internals --------------------------------------------------------------------------

    def _consume_state(self, state: str, actor: str) -> dict[str, Any]:
        t = self.db.oauth_states
        digest = state_digest(state)
        with self.db.begin() as conn:
            row = conn.execute(sa.delete(t).where(t.c.state == digest).returning(*t.c)).first()
            if row is None:
                self.audit.record(
                    "oauth.callback_failed",
                    actor=actor,
                    details={"reason": "unknown or already used state"},
                )
        if row is None:
            raise AuthenticationError(
                "unknown or already used OAuth state",
                hint="each authorization URL works once; request a new one with auth-url",
            )
        return dict(row._mapping)

    def _store_token_set(self, integration_id: str, token_set: TokenSet, actor: str) -> Integration:
        static_kind = static_token_kind(self.provider(self.get(integration_id)))
        with self.db.begin() as conn:
            self.vault.put(integration_id, OAUTH_TOKEN, token_set.to_vault())
            self.vault.delete(integration_id, static_kind)
            self._update(conn, integration_id, status="active")
            self.audit.record(
                "oauth.callback_completed",
                actor=actor,
                integration_id=integration_id,
                details={"account": token_set.extra, "scopes": token_set.scopes},
            )
        log.info("integration %s authorized", integration_id)
        return self.get(integration_id)

    def _store_secret_config(self, integration_id: str, secret_config: dict[str, Any]) -> None:
        for name, value in secret_config.items():
            self.vault.put(integration_id, name, {"value": value})

    def _update(self, conn: sa.Connection, integration_id: str, **values: Any) -> None:
        conn.execute(
            sa.update(self.db.integrations)
            .where(self.db.integrations.c.id == integration_id)
            .values(**values, updated_at=clock.time())
        )


def static_token_kind(provider: Provider) -> str:
    """The vault kind a provider's pasted token is stored under."""
    return provider.auth.static_token_field or STATIC_TOKEN


def secret_names(provider: Provider) -> frozenset[str]:
    """Normalised names that are secrets for this provider: its schema's secret fields at any
    depth, and the generic credential keys."""
    return frozenset({normalise_key(n) for n in _schema_secret_names(provider.config_schema)}) | {
        normalise_key(k) for k in SECRET_CONFIG_KEYS
    }


def _schema_secret_names(schema: Any) -> set[str]:
    names = set(secret_fields(schema))
    for info in schema.model_fields.values():
        for nested in _models_in(info.annotation):
            names |= _schema_secret_names(nested)
    return names


def _models_in(annotation: Any) -> list[Any]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) or () for m in _models_in(arg)]


def is_secret_key(key: str, names: frozenset[str]) -> bool:
    """A config key is a secret when its normalised spelling names one or looks like one."""
    norm = normalise_key(key)
    return norm in names or norm in SECRET_KEY_NAMES or norm.endswith(SECRET_KEY_SUFFIXES)


def split_secrets(
    config: Mapping[str, Any], names: frozenset[str], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, secret): secret keys at any depth leave the config; the vault kind is the
    normalised dotted path (`client_secret`, `auth.private_key`). Empty secrets are dropped."""
    plain: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{normalise_key(key)}"
        if is_secret_key(str(key), names):
            if value not in (None, "", {}, []):
                secret[path] = value
        elif isinstance(value, Mapping):
            inner_plain, inner_secret = split_secrets(value, names, prefix=f"{path}.")
            plain[key] = inner_plain
            secret.update(inner_secret)
        elif isinstance(value, list):
            items = []
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    inner_plain, inner_secret = split_secrets(
                        item, names, prefix=f"{path}.{index}."
                    )
                    items.append(inner_plain)
                    secret.update(inner_secret)
                else:
                    items.append(item)
            plain[key] = items
        else:
            plain[key] = value
    return plain, secret


def _setting(settings: Settings, name: str | None) -> str | None:
    if not name:
        return None
    value = getattr(settings, name, None)
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _state_binding(digest: str) -> str:
    return f"oauth_states/{digest}"


def _integration(row: Any) -> Integration:
    return Integration(
        **{k: row[k] for k in row if k not in ("created_at", "updated_at")},
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
    )
