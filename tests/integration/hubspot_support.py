"""Helpers for HubSpot integration tests: a sandbox over real HTTP and a platform wired to it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import httpx

from core.settings import Settings
from destinations.warehouse import Warehouse, dataset_name
from pipelines.registry import IntegrationRegistry
from pipelines.runner import SyncRequest, SyncResult, SyncRunner
from sandbox.hubspot.kit import TEST_PORTAL as KIT_TEST_PORTAL
from sandbox.hubspot.verify import TruthDiff, compare, sandbox_truth
from sources.common.http import RetryPolicy
from sources.hubspot.client import client_from_context

PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"
FAST_RETRY = RetryPolicy(
    max_attempts=10, backoff_base=0.01, backoff_max=0.05, rate_limit_fallback_wait=0.01
)
SMALL_PORTAL = dict(KIT_TEST_PORTAL)


class Sandbox:
    """The admin side of a running HubSpot sandbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"/_sandbox/{path}", **kw)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self, **config: Any) -> None:
        self.admin("POST", "reset", json={**SMALL_PORTAL, **config})

    def mutate(self, object_type: str, count: int | None = None, **kw: Any) -> dict:
        body = {"object_type": object_type, **kw}
        if count is not None:
            body["count"] = count
        return self.admin("POST", "mutate", json=body)

    def faults(self, **faults: Any) -> None:
        self.admin("POST", "faults", json=faults)

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def requests(self) -> list[dict]:
        body = self.admin("GET", "requests")
        return body["requests"] if isinstance(body, dict) else body


@dataclass
class Platform:
    """A registry, warehouse and runner on a throwaway data directory."""

    settings: Settings
    registry: IntegrationRegistry
    sandbox: Sandbox
    integration_id: str = "itest"

    def runner(self, **client_kw: Any) -> SyncRunner:
        return SyncRunner(
            self.settings,
            registry=self.registry,
            retry=FAST_RETRY,
            client_factory=functools.partial(client_from_context, **client_kw),
        )

    def sync(self, **kw: Any) -> SyncResult:
        client_kw = kw.pop("client_kw", {})
        return self.runner(**client_kw).run(SyncRequest(self.integration_id, **kw))

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse.from_settings(self.settings)

    @property
    def dataset(self) -> str:
        return dataset_name("hubspot", self.integration_id)

    def query(self, sql: str) -> list[tuple]:
        return self.warehouse.query(sql.replace("{ds}", self.dataset))

    def diff(self, object_type: str) -> TruthDiff:
        conn = self.warehouse.connect_readonly()
        try:
            return compare(
                sandbox_truth(self.sandbox.base_url, object_type),
                conn,
                f"{self.dataset}.{object_type}",
            )
        finally:
            conn.close()


def register_private_app(registry: IntegrationRegistry, base_url: str, integration_id: str):
    registry.create(
        organization_id="org",
        user_id="user",
        type="hubspot",
        name="integration test portal",
        config={"api_base": base_url, "auth_base": base_url},
        integration_id=integration_id,
        actor="test",
    )
    registry.set_private_app_token(integration_id, PRIVATE_APP_TOKEN, actor="test")
