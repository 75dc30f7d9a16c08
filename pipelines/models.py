"""Typed shapes the registry, vault, audit log and run log hand to the rest of the platform.

Plain data only: no I/O here. Secret fields are `SecretStr`, so a model never prints a token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IntegrationType = Literal["hubspot", "salesforce", "wordpress", "github"]
IntegrationStatus = Literal["pending_auth", "active", "error", "disabled"]
RunStatus = Literal["running", "success", "failed"]


def from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class Integration(BaseModel):
    """One connected account of one provider, owned by an organization."""

    model_config = ConfigDict(frozen=True)

    id: str
    organization_id: str
    user_id: str
    type: IntegrationType
    name: str
    status: IntegrationStatus
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class SyncRun(BaseModel):
    """One extraction or reverse-sync run of one integration, as the run log recorded it."""

    id: str
    integration_id: str
    mode: str
    entities: list[str]
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    rows_loaded: dict[str, int] = Field(default_factory=dict)
    requests: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    error: str | None = None
    load_ids: list[str] = Field(default_factory=list)


class AuditEntry(BaseModel):
    """One recorded action: who did what to which integration (details already scrubbed)."""

    id: int
    at: datetime
    actor: str
    action: str
    integration_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
