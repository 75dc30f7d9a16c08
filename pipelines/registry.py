"""The integration registry: create, authorize, inspect and retire integrations.

Every operation is audited with its actor. Secrets go only into the vault (encrypted before the
first write); config, audit details, logs and errors never carry one. OAuth callbacks are bound
to a single-use, ten-minute state with a PKCE verifier kept encrypted until the exchange.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
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
    PRIVATE_APP_TOKEN,
    AccessTokenProvider,
    OAuthTokenProvider,
    StaticTokenProvider,
)
from pipelines.models import (
    Integration,
    IntegrationStatus,
    IntegrationType,
    from_epoch,
)
from pipelines.vault import CredentialVault
from sources.common.tokens import TokenSet
from sources.hubspot.auth import DEFAULT_SCOPES, HubSpotOAuth, pkce_pair

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


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class IntegrationRegistry:
    """The one place integrations and their credentials are created, changed and removed."""

    def __init__(
        self, db: ControlDatabase, vault: CredentialVault, audit: AuditLog, settings: Settings
    ) -> None:
        self.db = db
        self.vault = vault
        self.audit = audit
        self.settings = settings

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
        type: IntegrationType,
        name: str,
        config: dict[str, Any] | None = None,
        integration_id: str | None = None,
        actor: str = "system",
    ) -> Integration:
        if type not in get_args(IntegrationType):
            raise ValidationError(
                f"unknown integration type {type!r}",
                hint=f"one of {', '.join(get_args(IntegrationType))}",
            )
        integration_id = integration_id or f"{type}-{secrets.token_hex(6)}"
        if not INTEGRATION_ID.match(integration_id):
            raise ValidationError(
                f"invalid integration id {integration_id!r}",
                hint="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
            )
        plain_config, secret_config = _split_secrets(config or {})
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

    def get(self, integration_id: str) -> Integration:
        t = self.db.integrations
        with self.db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == integration_id)).first()
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
        self.get(integration_id)
        plain_config, secret_config = _split_secrets(config)
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
        _require_hubspot(integration)
        oauth = self.oauth_client(integration)
        scopes = list(scopes or integration.config.get("scopes") or DEFAULT_SCOPES)
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
        try:
            if pending["expires_at"] <= clock.time():
                raise AuthenticationError(
                    "the OAuth state has expired",
                    provider="hubspot",
                    integration_id=integration_id,
                    hint="authorization must finish within 10 minutes; request a new auth URL",
                )
            if error:
                raise AuthenticationError(
                    f"HubSpot refused the authorization: {error[:100]}",
                    provider="hubspot",
                    integration_id=integration_id,
                    hint="the user declined or the app is misconfigured; request a new auth URL",
                )
            if not code:
                raise AuthenticationError(
                    "the OAuth callback carries no code",
                    provider="hubspot",
                    integration_id=integration_id,
                )
            integration = self.get(integration_id)
            verifier = self.vault.unseal(
                _state_binding(pending["state"]), pending["code_verifier_ciphertext"]
            )
            token_set = self.oauth_client(integration).exchange_code(
                code, pending["redirect_uri"], verifier
            )
        except IntegrationError as exc:
            exc.integration_id = exc.integration_id or integration_id
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
                provider="hubspot",
                hint="paste the full URL the browser landed on after authorizing",
            )
        return self.complete_callback(
            state=state, code=param("code"), error=param("error"), actor=actor
        )

    def set_private_app_token(
        self, integration_id: str, token: str, actor: str = "system"
    ) -> Integration:
        integration = self.get(integration_id)
        token = token.strip()
        if not token:
            raise ValidationError("the token is empty", integration_id=integration_id)
        with self.db.begin() as conn:
            self.vault.put(integration_id, PRIVATE_APP_TOKEN, {"access_token": token})
            self.vault.delete(integration_id, OAUTH_TOKEN)
            self._update(conn, integration_id, status="active")
            self.audit.record(
                "credentials.private_app_token_set",
                actor=actor,
                integration_id=integration_id,
                details={"type": integration.type, "status": "active"},
            )
        return self.get(integration_id)

    def token_provider(self, integration_id: str) -> AccessTokenProvider:
        integration = self.get(integration_id)
        kinds = self.vault.kinds(integration_id)
        if PRIVATE_APP_TOKEN in kinds:
            value = self.vault.get(integration_id, PRIVATE_APP_TOKEN) or {}
            return StaticTokenProvider(value["access_token"], integration_id=integration_id)
        if OAUTH_TOKEN in kinds:
            _require_hubspot(integration)
            return OAuthTokenProvider(
                integration_id, self.vault, self.oauth_client(integration), self.audit
            )
        raise AuthenticationError(
            "integration has no credentials",
            provider=integration.type,
            integration_id=integration_id,
            hint="authorize it (integrations auth-url) or set a token (integrations set-token)",
        )

    def oauth_client(self, integration: Integration) -> HubSpotOAuth:
        config = integration.config
        client_id = config.get("client_id") or self.settings.HUBSPOT_CLIENT_ID
        stored = self.vault.get(integration.id, "client_secret")
        if stored is not None:
            client_secret: str | None = stored["value"]
        elif self.settings.HUBSPOT_CLIENT_SECRET is not None:
            client_secret = self.settings.HUBSPOT_CLIENT_SECRET.get_secret_value()
        else:
            client_secret = None
        if not client_id or not client_secret:
            raise AuthenticationError(
                "no HubSpot OAuth app configured",
                provider="hubspot",
                integration_id=integration.id,
                hint="set HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET, or client_id/client_secret "
                "in the integration's config",
            )
        return HubSpotOAuth(
            client_id,
            client_secret,
            api_base=config.get("api_base") or self.settings.HUBSPOT_API_BASE,
            auth_base=config.get("auth_base") or self.settings.HUBSPOT_AUTH_BASE,
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
                provider="hubspot",
                hint="each authorization URL works once; request a new one with auth-url",
            )
        return dict(row._mapping)

    def _store_token_set(self, integration_id: str, token_set: TokenSet, actor: str) -> Integration:
        with self.db.begin() as conn:
            self.vault.put(integration_id, OAUTH_TOKEN, token_set.to_vault())
            self.vault.delete(integration_id, PRIVATE_APP_TOKEN)
            self._update(conn, integration_id, status="active")
            self.audit.record(
                "oauth.callback_completed",
                actor=actor,
                integration_id=integration_id,
                details={"hub_id": token_set.hub_id, "scopes": token_set.scopes},
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


def _split_secrets(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = {k: v for k, v in config.items() if k not in SECRET_CONFIG_KEYS}
    secret = {k: v for k, v in config.items() if k in SECRET_CONFIG_KEYS and v}
    return plain, secret


def _state_binding(digest: str) -> str:
    return f"oauth_states/{digest}"


def _require_hubspot(integration: Integration) -> None:
    if integration.type != "hubspot":
        raise ValidationError(
            f"OAuth for {integration.type} integrations is not implemented here",
            provider=integration.type,
            integration_id=integration.id,
        )


def _integration(row: Any) -> Integration:
    return Integration(
        **{k: row[k] for k in row if k not in ("created_at", "updated_at")},
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
    )
