"""Process configuration, read once from the environment with the service's contract names.

Names follow DESIGN.md decision 9. Secrets (`SECRET_KEY`, `ENCRYPTION_KEY`, client secrets) are
`SecretStr` so they never print; nothing here is ever logged in clear.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Settings the demo writes for its data directory (its generated ENCRYPTION_KEY, local sandbox
# hosts allowed), so a later `platform ...` or `make dev` on the same data directory works.
LOCAL_ENV_FILE = "local.env"


class Settings(BaseSettings):
    """Everything a process of the platform needs to know about where it runs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then `.env`, then `DATA_DIR/local.env` (what the
        demo recorded for that data directory): the operator's own values always win."""
        data_dir = (
            getattr(init_settings, "init_kwargs", {}).get("DATA_DIR")
            or os.environ.get("DATA_DIR")
            or ".data"
        )
        local = DotEnvSettingsSource(settings_cls, env_file=Path(data_dir) / LOCAL_ENV_FILE)
        return init_settings, env_settings, dotenv_settings, local, file_secret_settings

    SERVICE_NAME: str = "integration-platform"
    PORT: int = 8000
    ENVIRONMENT: str = "development"
    SECRET_KEY: SecretStr = SecretStr("dev-secret-key-change-me")
    # One or more Fernet keys, comma separated; the first encrypts, all decrypt (rotation).
    ENCRYPTION_KEY: SecretStr | None = None

    HUBSPOT_CLIENT_ID: str | None = None
    HUBSPOT_CLIENT_SECRET: SecretStr | None = None
    HUBSPOT_API_BASE: str = "https://api.hubapi.com"
    HUBSPOT_AUTH_BASE: str = "https://app.hubspot.com"
    SALESFORCE_CLIENT_ID: str | None = None
    SALESFORCE_CLIENT_SECRET: SecretStr | None = None
    GITHUB_CLIENT_ID: str | None = None
    GITHUB_CLIENT_SECRET: SecretStr | None = None
    WEBHOOK_SECRET: SecretStr | None = None
    # Provider base URLs may name local hosts (127.0.0.1, localhost, plain http to them): on
    # for the sandbox, tests, benchmarks and the demo only (sources/common/hosts.py).
    ALLOW_LOCAL_PROVIDER_HOSTS: bool = False
    WEBHOOK_BASE_URL: str = "http://127.0.0.1:8000"

    # Where everything the platform writes lives: warehouse file, dlt state, Dagster home.
    DATA_DIR: Path = Field(default_factory=lambda: Path(".data").resolve())
    # Control database (registry, vault, audit log, sync runs). SQLite under DATA_DIR by default.
    CONTROL_DATABASE_URL: str | None = None
    # Warehouse: "duckdb" (embedded default) or "postgres".
    WAREHOUSE: str = "duckdb"
    DUCKDB_PATH: Path | None = None
    WAREHOUSE_POSTGRES_URL: str | None = None
    # Path of the integration declarations Dagster builds its definitions from.
    DECLARATIONS_PATH: Path | None = None

    # --- Webhook service (issue 3) ---
    # Durable inbox: SQLite in WAL mode under DATA_DIR by default, or a Postgres URL.
    INBOX_DATABASE_URL: str | None = None
    WEBHOOK_MAX_BODY_BYTES: int = 1_048_576
    # Serving (`platform webhooks serve`): threads per gunicorn worker (gthread workers, so a
    # slow client holds one thread, not a whole worker), and the seconds a request body may take
    # to arrive before the receiver answers 408 (a slow client holds its thread at most that).
    WEBHOOK_THREADS: int = Field(default=64, ge=1, le=256)
    WEBHOOK_BODY_READ_TIMEOUT_S: float = Field(default=10.0, gt=0)
    # Per-integration token bucket for deliveries: sustained rate and burst.
    WEBHOOK_RATE_LIMIT_PER_SECOND: float = 200.0
    WEBHOOK_RATE_LIMIT_BURST: int = 400
    # Seconds to wait before each retry of failed event processing; its length is the attempts.
    WEBHOOK_RETRY_SCHEDULE: str = "30,120,600,3600"
    # Seconds an event may stay dispatched without a live run before it is requeued.
    WEBHOOK_DISPATCH_TIMEOUT_S: float = Field(default=600, gt=0)
    # Path of the declarative webhook routes (provider, event type) -> action; None = the
    # shipped default, events/routes.yaml.
    WEBHOOK_ROUTES_PATH: Path | None = None
    # Integrations API: API keys and a per-key rate limit. Comma-separated entries ORG:KEY (the
    # key acts for that organization only), *:KEY (admin, every organization) or a bare KEY
    # (admin, the older form; a warning asks to bind it). See webhook_receiver/api_keys.py.
    API_KEYS: SecretStr | None = None
    API_RATE_LIMIT_PER_MINUTE: int = 120

    # --- Transformation service (issue 4) ---
    MAPPINGS_DIR: Path | None = None
    PHONE_DEFAULT_REGION: str = "US"
    # Mapping asset check: fail when a run quarantines more than this share of its rows.
    MAPPINGS_MAX_REJECTED_RATIO: float = Field(default=0.05, ge=0, le=1)

    @cached_property
    def data_dir(self) -> Path:
        """DATA_DIR, created 0700 (it holds the vault, the inbox and every payload)."""
        from core.private_files import private_dir

        return private_dir(Path(self.DATA_DIR).resolve())

    @property
    def control_database_url(self) -> str:
        return self.CONTROL_DATABASE_URL or f"sqlite:///{self.data_dir / 'control.sqlite'}"

    @property
    def duckdb_path(self) -> Path:
        return Path(self.DUCKDB_PATH or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def dlt_pipelines_dir(self) -> Path:
        path = self.data_dir / "dlt"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def dagster_home(self) -> Path:
        path = self.data_dir / "dagster_home"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def declarations_path(self) -> Path:
        if self.DECLARATIONS_PATH:
            return Path(self.DECLARATIONS_PATH).resolve()
        return Path(__file__).resolve().parent.parent / "pipelines" / "declarations.yaml"

    @property
    def inbox_database_url(self) -> str:
        return self.INBOX_DATABASE_URL or f"sqlite:///{self.data_dir / 'inbox.sqlite'}"

    @property
    def webhook_retry_schedule(self) -> list[float]:
        return [float(s) for s in self.WEBHOOK_RETRY_SCHEDULE.split(",") if s.strip()]

    @property
    def mappings_dir(self) -> Path:
        if self.MAPPINGS_DIR:
            return Path(self.MAPPINGS_DIR).resolve()
        return Path(__file__).resolve().parent.parent / "mappings"

    def api_keys(self) -> list[str]:
        if self.API_KEYS is None:
            return []
        return [k.strip() for k in self.API_KEYS.get_secret_value().split(",") if k.strip()]

    def encryption_keys(self) -> list[str]:
        if self.ENCRYPTION_KEY is None:
            return []
        return [k.strip() for k in self.ENCRYPTION_KEY.get_secret_value().split(",") if k.strip()]


def get_settings(**overrides) -> Settings:
    """Fresh settings from the environment (plus explicit overrides, which tests use)."""
    return Settings(**overrides)


def configure_dlt_environment(settings: Settings) -> None:
    """Point dlt at the project's data directory and turn its telemetry off (decision 6)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", str(settings.data_dir / "dlt_home"))
