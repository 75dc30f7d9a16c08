"""End to end over real HTTP: mutate in the HubSpot sandbox -> signed v3 webhook batch ->
receiver (Flask app served on a local port) -> inbox -> Dagster sensor -> webhook runs ->
warehouse equal to the sandbox's truth again, without another sync."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from pydantic import SecretStr

from dagster_project.defs.webhooks.jobs import webhook_events_job
from dagster_project.defs.webhooks.resources import WebhooksResource
from dagster_project.defs.webhooks.sensors import build_events_sensor
from inbox import Inbox
from sandbox.common.server import SandboxServer
from tests.integration.hubspot_support import Platform
from webhook_receiver.app import create_app

SECRET = "e2e-webhook-secret"
# Fast, but with room for a receiver slowed down by a loaded machine (about 4 s in all).
FAST_RETRY = {"initial_delay_ms": 20, "multiplier": 2.0, "max_delay_ms": 500, "jitter": 0.0}


@pytest.fixture
def receiver_url(platform: Platform) -> Iterator[str]:
    # The fallback secret signs; no app client secret from the environment may take precedence.
    settings = platform.settings.model_copy(
        update={"WEBHOOK_SECRET": SecretStr(SECRET), "HUBSPOT_CLIENT_SECRET": None}
    )
    server = SandboxServer(create_app(settings, registry=platform.registry))
    base_url = server.start()
    try:
        yield f"{base_url}/api/v1/webhooks/hubspot/{platform.integration_id}"
    finally:
        server.stop()


def sensor_runs(webhooks: WebhooksResource) -> list[dg.RunRequest]:
    sensor = build_events_sensor(webhook_events_job, running=False)
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources={"webhooks": webhooks}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult), result
    return list(result.run_requests)


def test_sandbox_mutations_reach_the_warehouse_through_webhooks(
    platform: Platform, receiver_url: str, monkeypatch
):
    monkeypatch.setenv("ENCRYPTION_KEY", platform.settings.ENCRYPTION_KEY.get_secret_value())
    sandbox = platform.sandbox
    platform.sync()
    assert platform.diff("contacts").equal
    sandbox.admin(
        "POST",
        "webhooks",
        json={
            "target_url": receiver_url,
            "client_secret": SECRET,
            "signature_version": "v3",
            "retry": FAST_RETRY,
            "flush_interval_ms": 60_000,
        },
    )
    sandbox.admin("DELETE", "requests")

    changed = sandbox.mutate("contacts", 3, properties={"jobtitle": "Webhook Engineer"})["ids"]
    created = sandbox.admin("POST", "create", json={"object_type": "contacts"})["ids"]
    archived = sandbox.admin("POST", "archive", json={"object_type": "contacts", "count": 1})
    deal = sandbox.mutate("deals", 1, properties={"dealname": "Renewal via webhook"})["ids"]
    flushed = sandbox.admin("POST", "webhooks/flush", json={"timeout_s": 20})
    assert flushed["drained"] is True
    delivered = sandbox.admin("GET", "webhooks/deliveries")["deliveries"]
    assert delivered and all(d["status"] == "delivered" for d in delivered), [
        (d["status"], [(a.get("status_code"), a.get("error")) for a in d["attempts"]])
        for d in delivered
    ]

    webhooks = WebhooksResource(data_dir=str(platform.settings.data_dir))
    inbox = Inbox.from_settings(platform.settings)
    stored = inbox.fetch_ready()
    assert {e.verification for e in stored} == {"hubspot-v3"}
    assert {e.object_id for e in stored} >= {*changed, *created, *archived["ids"], *deal}

    requests = sensor_runs(webhooks)
    routes = sorted(r.tags["webhooks/route"] for r in requests)
    assert routes == ["hubspot-contact-deleted", "hubspot-contacts", "hubspot-deals"]
    for request in requests:
        result = webhook_events_job.execute_in_process(
            run_config=request.run_config, resources={"webhooks": webhooks}, tags=request.tags
        )
        assert result.success

    # The warehouse holds the sandbox's truth again, with no sync run in between ...
    for entity in ("contacts", "deals"):
        diff = platform.diff(entity)
        assert diff.equal, f"{entity}: {diff.summary()}"
    titles = platform.query(
        "SELECT id, properties__jobtitle FROM {ds}.contacts WHERE id IN "
        f"({', '.join(repr(i) for i in changed)})"
    )
    assert sorted(titles) == sorted((i, "Webhook Engineer") for i in changed)
    assert platform.query(
        f"SELECT archived FROM {{ds}}.contacts WHERE id = '{archived['ids'][0]}'"
    ) == [(True,)]
    # ... because the changed records were read by id (batch read), never searched for,
    paths = [r["path"] for r in sandbox.requests()]
    assert [p for p in paths if p.endswith(("/search", "/objects/contacts"))] == []
    assert "/crm/v3/objects/contacts/batch/read" in paths
    # ... and every event is settled.
    assert {e.status for e in inbox.get([e.id for e in stored])} == {"processed"}
    assert inbox.fetch_ready() == []
    runs = platform.runner().run_log.list(platform.integration_id)
    by_id = sorted(run.entities for run in runs if run.mode == "by_id")
    assert by_id == [["contacts"], ["deals"]]
    assert all(run.status == "success" for run in runs)
