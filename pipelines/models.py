"""Typed shapes the registry, vault, audit log and run log hand to the rest of the platform.

Plain data only: no I/O here. Secret fields are `SecretStr`, so a model never prints a token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A registered provider's name; validated against the provider registry, not a fixed list.
IntegrationType = str
IntegrationStatus = Literal["pending_auth", "active", "error", "disabled"]
# `abandoned`: left `running` by a process that is gone (marked on the next runner start).
RunStatus = Literal["running", "success", "failed", "abandoned"]


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
    provider: str | None = None
    # The process that ran it, so a run whose process is gone can be marked abandoned.
    runner_host: str | None = None
    runner_pid: int | None = None


class AuditEntry(BaseModel):
    """One recorded action: who did what to which integration (details already scrubbed)."""

    id: int
    at: datetime
    actor: str
    action: str
    integration_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
