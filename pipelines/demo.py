"""The demo: the whole path on the embedded default, against the local HubSpot sandbox.

It goes through the real code paths only (OAuth authorize → callback → encrypted tokens →
full sync → mutations in the sandbox → incremental sync) and prints what it loaded. It must
never use a shortcut a real deployment could not take.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from core.settings import get_settings

DEMO_INTEGRATION_ID = "demo-hubspot"
DEMO_REDIRECT_URI = "http://127.0.0.1:8000/oauth/hubspot/callback"


def _ensure_encryption_key(data_dir: Path, echo: Callable[[str], None]) -> None:
    """The demo keeps its own key in the data directory if the operator set none."""
    if os.environ.get("ENCRYPTION_KEY"):
        return
    key_file = data_dir / "demo-encryption.key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
        echo(f"generated a demo ENCRYPTION_KEY in {key_file} (set ENCRYPTION_KEY in production)")
    os.environ["ENCRYPTION_KEY"] = key_file.read_text().strip()


def run_demo(*, contacts: int = 5000, mutate: int = 50, echo: Callable[[str], None] = print):
    from destinations.warehouse import Warehouse
    from pipelines.registry import IntegrationRegistry
    from pipelines.runner import SyncRequest, SyncRunner
    from sandbox.hubspot.config import HubSpotSandboxConfig
    from sandbox.server import start_sandbox_process

    base_settings = get_settings()
    _ensure_encryption_key(base_settings.data_dir, echo)
    config = HubSpotSandboxConfig(contacts=contacts, companies=contacts // 5, deals=contacts // 3)
    echo(
        f"starting the HubSpot sandbox ({config.contacts:,} contacts, {config.companies:,} "
        f"companies, {config.deals:,} deals)"
    )
    sandbox = start_sandbox_process(config)
    try:
        # The sandbox's OAuth app, unless the environment names one; never written to
        # os.environ, so nothing leaks into a process that runs the demo in-process (tests).
        settings = get_settings(
            HUBSPOT_CLIENT_ID=os.environ.get("HUBSPOT_CLIENT_ID") or config.oauth_client_id,
            HUBSPOT_CLIENT_SECRET=os.environ.get("HUBSPOT_CLIENT_SECRET")
            or config.oauth_client_secret,
        )
        registry = IntegrationRegistry.from_settings(settings)
        if any(i.id == DEMO_INTEGRATION_ID for i in registry.list()):
            registry.delete(DEMO_INTEGRATION_ID, actor="demo")
        integration = registry.create(
            organization_id="demo-org",
            user_id="demo-user",
            type="hubspot",
            name="Demo HubSpot portal (sandbox)",
            config={"api_base": sandbox.base_url, "auth_base": sandbox.base_url},
            integration_id=DEMO_INTEGRATION_ID,
            actor="demo",
        )
        echo(f"registered integration {integration.id} (status {integration.status})")

        url = registry.authorization_url(integration.id, DEMO_REDIRECT_URI, actor="demo")
        consent = httpx.get(url, follow_redirects=False, timeout=10)
        redirected = consent.headers.get("location", "")
        integration = registry.complete_callback_url(redirected, actor="demo")
        echo(f"OAuth (authorization code + PKCE S256) completed: status {integration.status}")

        # A previous demo's bookmarks would make the first sync incremental: start clean.
        runner = SyncRunner(settings, registry=registry)
        runner.pipeline(integration.id).drop()
        for label, full in (("full sync", True), ("incremental sync", False)):
            if not full:
                changed = httpx.post(
                    f"{sandbox.base_url}/_sandbox/mutate",
                    json={"object_type": "contacts", "count": mutate},
                    timeout=10,
                ).json()
                httpx.post(
                    f"{sandbox.base_url}/_sandbox/mutate",
                    json={"object_type": "deals", "count": max(1, mutate // 5)},
                    timeout=10,
                )
                echo(
                    f"mutated {len(changed['ids'])} contacts and {max(1, mutate // 5)} deals "
                    "in the sandbox"
                )
            started = time.monotonic()
            result = runner.run(SyncRequest(integration.id, full_refresh=full, actor="demo"))
            echo(
                f"{label}: {result.status} in {time.monotonic() - started:.1f}s, "
                f"{result.requests} API requests, {result.rate_limit_waits} rate-limit waits"
            )
            for table, rows in sorted(result.rows_loaded.items()):
                echo(f"  {result.dataset}.{table:<20} {rows:>8,} rows loaded")

        warehouse = Warehouse.from_settings(settings)
        dataset = result.dataset
        echo(f"warehouse: {warehouse.duckdb_path or warehouse.postgres_url}")
        for table in (
            "contacts",
            "companies",
            "deals",
            "contact_companies",
            "deal_companies",
            "deal_contacts",
        ):
            count = warehouse.query(f"SELECT COUNT(*) FROM {dataset}.{table}")[0][0]
            echo(f"  {dataset}.{table:<20} {count:>8,} rows in the warehouse")
        _transform_and_dedup(settings, warehouse, integration.id, echo)
        echo(
            'query it: .venv/bin/python -c "import duckdb; print(duckdb.connect('
            f"'{warehouse.duckdb_path}', read_only=True).sql("
            f"'SELECT * FROM crm.contacts_golden LIMIT 5'))\""
        )
    finally:
        sandbox.stop()


def _transform_and_dedup(settings, warehouse, integration_id: str, echo) -> None:
    """The shipped canonical mappings, then entity resolution: what the Dagster assets run."""
    from mappings.dedup import DedupEngine, load_match_rules_dir
    from mappings.engine import MappingEngine
    from mappings.spec import load_mappings

    engine = MappingEngine(warehouse, settings)
    for spec in load_mappings(settings.mappings_dir):
        result = engine.run(spec, integration_id=integration_id)
        echo(
            f"mapping {result.mapping}: {result.rows_in:,} in = {result.rows_out:,} to "
            f"{result.target_table} + {result.rows_quarantined:,} quarantined + "
            f"{result.rows_filtered:,} filtered + {result.rows_deduplicated:,} deduplicated "
            f"({result.seconds:.1f}s)"
        )
    dedup = DedupEngine(warehouse)
    for rules in load_match_rules_dir(settings.mappings_dir / "match_rules"):
        result = dedup.run(rules)
        echo(
            f"dedup {result.model}: {result.records:,} records -> {result.golden_rows:,} golden "
            f"in {result.golden_table} ({result.multi_record_clusters:,} merged clusters), "
            f"{result.crosswalk_rows:,} crosswalk rows"
        )
