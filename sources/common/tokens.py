"""OAuth token sets: what a provider's token endpoint returns and what the vault keeps.

Lives in `sources/common` because the generic OAuth client (`sources/common/oauth.py`) builds
them; the vault (in `pipelines/`) stores them encrypted. Never log or repr a token set's secret
fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from core.clock import clock


class TokenSet(BaseModel):
    """An OAuth token set as the vault keeps it; `expires_at` is epoch seconds.

    `extra` keeps the provider-specific fields of the token response the provider asked for
    (`OAuthEndpoints.extra_token_fields`: an account id, an instance URL).
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: float | None = None
    token_type: str = "bearer"
    scopes: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, value: Any) -> Any:
        """Vault rows written before `extra` existed kept `hub_id` at the top level."""
        if isinstance(value, dict) and "hub_id" in value:
            value = dict(value)
            hub_id = value.pop("hub_id")
            if hub_id is not None:
                value["extra"] = {"hub_id": hub_id, **(value.get("extra") or {})}
        return value

    @property
    def hub_id(self) -> Any:
        """The `hub_id` account field from `extra`, kept readable for callers that name it."""
        return self.extra.get("hub_id")

    def expires_within(self, seconds: float) -> bool:
        """True when the access token is (or within `seconds` will be) expired."""
        return self.expires_at is not None and clock.time() + seconds >= self.expires_at

    def to_vault(self) -> dict[str, Any]:
        """Plain dict for the vault (which encrypts it); the only place secrets are unwrapped."""
        return {
            "access_token": self.access_token.get_secret_value(),
            "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "scopes": list(self.scopes),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_vault(cls, value: dict[str, Any]) -> TokenSet:
        return cls.model_validate(value)
