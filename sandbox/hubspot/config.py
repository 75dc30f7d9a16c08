"""Configuration of the HubSpot sandbox: data scale, limits, OAuth client and tokens.

Every knob has HubSpot's real default; tests and benchmarks override what they need, either when
building the app or at runtime through `POST /_sandbox/reset`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sandbox.hubspot.webhooks.settings import WebhookSettings


class HubSpotSandboxConfig(BaseModel):
    """All settings of one sandbox portal (validated, immutable once the state is built)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 42
    contacts: int = Field(1000, ge=0)
    companies: int = Field(200, ge=0)
    deals: int = Field(300, ge=0)
    custom_properties: int = Field(5, ge=0)
    page_size_max: int = 100
    search_limit_max: int = 200
    search_result_cap: int = 10000
    search_max_filter_groups: int = 5
    search_max_filters_per_group: int = 6
    search_max_filters_total: int = 18
    batch_max_inputs: int = 100
    association_batch_read_max: int = 1000
    association_batch_create_max: int = 2000
    max_url_length: int = 8192
    ten_second_limit: int = 190
    oauth_ten_second_limit: int | None = None  # None: same as ten_second_limit
    daily_limit: int = 625000
    search_per_second: int = 5
    oauth_client_id: str = "sandbox-client-id"
    oauth_client_secret: str = "sandbox-client-secret"
    access_token_ttl: int = 1800
    rotate_refresh_tokens: bool = False
    enforce_scopes: bool = True
    # JSON file keeping issued refresh tokens across restarts (None: memory only).
    token_file: str | None = None
    private_app_tokens: list[str] = Field(
        default_factory=lambda: ["pat-na1-00000000-0000-0000-0000-000000000000"]
    )
    portal_id: int = 62515
    user_id: int = 7654321
    app_id: int = 1234567
    hub_domain: str = "sandbox-62515.hubspot.com"
    search_index_lag_ms: int = 0
    ties_per_timestamp: int = Field(3, ge=1)
    base_start_ms: int = 1704067200000  # 2024-01-01T00:00:00Z
    base_span_ms: int = 366 * 24 * 3600 * 1000  # base history ends before 2025-01-02
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)  # off until a target
