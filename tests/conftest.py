"""Fixtures every test may use: an isolated data directory, settings, and real service handles.

Services that are absent make their tests skip with a reason, unless REQUIRE_SERVICES=1 (CI),
in which case those tests fail instead: a green CI must mean the services were really exercised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.settings import Settings

# Tests run providers against local sandboxes and fake endpoints (127.0.0.1, plain http): the
# host policy admits local hosts only when the deployment says so. Set before any Settings exist,
# so spawned processes inherit it too. Tests of the refusal pass ALLOW_LOCAL_PROVIDER_HOSTS=False.
os.environ.setdefault("ALLOW_LOCAL_PROVIDER_HOSTS", "true")

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def service_unavailable(reason: str) -> None:
    """Skip (locally) or fail (CI) a test whose service is missing."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def encryption_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def settings(data_dir: Path, encryption_key: str) -> Settings:
    return Settings(DATA_DIR=data_dir, ENCRYPTION_KEY=encryption_key, _env_file=None)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty Postgres database on the real server, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        service_unavailable(f"Postgres at {POSTGRES_ADMIN_URL} not reachable: {exc}")
        return
    name = f"itest_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
