"""The provider acceptance suite: every registered provider passes it against its own sandbox,
over real HTTP, end to end through the platform's own rooms (registry, vault, runner, warehouse,
receiver, inbox, routing, Dagster's webhook sensor and job).

Providers come from the registry; anything provider-specific comes from the `Provider` object or
its sandbox kit (`sandbox.common.kit.SandboxKit`). Adding a provider adds nothing here. A
webhook-only provider (no entities, client or source) gets the declaration checks only.
Run one provider with `.venv/bin/pytest tests/acceptance -k <name>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import httpx
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, SecretStr

from cli.main import main as platform_cli
from core.errors import AuthenticationError
from dagster_project.defs.webhooks.jobs import webhook_events_job
from dagster_project.defs.webhooks.resources import WebhooksResource
from dagster_project.defs.webhooks.sensors import build_events_sensor
from inbox import Inbox
from pipelines.registry import is_secret_key, normalise_key, secret_names
from pipelines.run_log import SyncRunLog
from pipelines.runner import SyncRequest
from sandbox.common.server import SandboxServer
from sources.provider import Provider, ProviderConfig, secret_fields
from tests.acceptance.conftest import Platform
from webhook_receiver.app import create_app as create_receiver

MUTATED = 3  # records changed per case: enough to see, small enough to stay fast
API_KEY = "acceptance-api-key-0123456789"


# -- 1. declarations ----------------------------------------------------------------------------


def _schema_fields(schema: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, annotation) of every field of a config schema, nested models included."""
    for name, info in schema.model_fields.items():
        yield prefix + name, info.annotation
        for nested in _models_in(info.annotation):
            yield from _schema_fields(nested, prefix=f"{prefix}{name}.")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) or () for m in _models_in(arg)]


def _is_secret_type(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret_type(arg) for arg in getattr(annotation, "__args__", ()) or ())


def test_entities_and_config_schema_are_declared(provider: Provider):
    for key, spec in provider.entities.items():
        assert spec.name == key, f"entity {key!r} is named {spec.name!r}"
        assert spec.primary_key and all(spec.primary_key), f"{key}: no primary key"
        if spec.incremental:
            assert spec.cursor_field, f"{key} is incremental but declares no cursor field"
    assert set(provider.default_entities) <= set(provider.entities)
    if provider.extracts:
        assert provider.default_entities or provider.entities

    schema = provider.config_schema
    assert issubclass(schema, ProviderConfig)
    # Every field the registry would vault (secret, token, password, private key ...) is typed
    # SecretStr, so the schema and the vault agree on what a secret is.
    names = secret_names(provider)
    for dotted, annotation in _schema_fields(schema):
        if is_secret_key(dotted.rsplit(".", 1)[-1], names) and not _models_in(annotation):
            assert _is_secret_type(annotation), f"{provider.name}: {dotted} is not a SecretStr"
    for name in secret_fields(schema):
        assert is_secret_key(name, names)

    policy = provider.hosts
    assert policy.fields or policy.any_public_host, "the host policy names no URL field"
    unknown = [f for f in policy.fields if f not in schema.model_fields]
    assert not unknown, f"host policy names fields the schema lacks: {unknown}"


# -- 2. full sync -------------------------------------------------------------------------------


def test_full_sync_equals_the_sandbox_truth(platform: Platform):
    integration = platform.connect()
    assert integration.status == "active"

    result = platform.sync(full_refresh=True)

    assert result.status == "success" and result.mode == "full"
    assert result.load_ids
    for entity in platform.provider.resolve_entities(None):
        platform.assert_equals_truth(entity)


# -- 3. incremental -----------------------------------------------------------------------------


def test_incremental_after_mutations_equals_the_truth_and_idle_loads_nothing(
    platform: Platform,
):
    platform.connect()
    platform.sync(full_refresh=True)
    entities = platform.provider.resolve_entities(None)
    incremental = [e for e in entities if platform.provider.entity(e).incremental]
    changed = {e: platform.kit.mutate(platform.sandbox_url, e, MUTATED) for e in incremental}
    assert all(len(ids) == MUTATED for ids in changed.values()), changed
    for entity, ids in changed.items():
        assert platform.stale_ids(entity) == set(ids), f"{entity}: mutate moved no cursor"

    result = platform.sync()

    assert result.status == "success" and result.mode == "incremental"
    for entity in entities:
        platform.assert_equals_truth(entity)

    idle = platform.sync()
    assert idle.status == "success"
    assert idle.load_ids == [], f"an idle incremental made load packages {idle.load_ids}"
    for entity in entities:
        platform.assert_equals_truth(entity)


# -- 4. by id -----------------------------------------------------------------------------------


def test_by_id_fetch_reads_the_named_records_and_leaves_the_bookmark(platform: Platform):
    provider = platform.provider
    by_id = [e for e in provider.resolve_entities(None) if provider.entity(e).by_ids]
    if not by_id:
        pytest.skip(f"{provider.name} declares no entity read by id")
    entity = by_id[0]
    platform.connect()
    platform.sync(full_refresh=True)
    ids = platform.kit.mutate(platform.sandbox_url, entity, MUTATED)
    assert platform.stale_ids(entity) == set(ids)
    bookmarks = platform.bookmarks()
    assert bookmarks, "no incremental bookmark after a full sync"

    result = platform.sync(entities=[entity], ids=ids)

    assert result.status == "success" and result.mode == "by_id"
    assert result.reports[entity].rows == len(ids)
    assert result.reports[entity].missing_ids == []
    platform.assert_equals_truth(entity, ids)
    assert platform.bookmarks() == bookmarks, "the by-id read moved the incremental bookmarks"
    # More changes after the by-id read: the next incremental still finds every change since
    # the last incremental (the by-id read did not move its bookmark).
    later = platform.kit.mutate(platform.sandbox_url, entity, MUTATED)
    follow_up = platform.sync(entities=[entity])
    assert follow_up.status == "success" and follow_up.mode == "incremental"
    assert follow_up.reports[entity].rows >= len(set(ids) | set(later))
    platform.assert_equals_truth(entity)


# -- 5. webhooks --------------------------------------------------------------------------------


@pytest.fixture
def receiver_url(platform: Platform) -> Iterator[str]:
    """The platform's webhook receiver served over HTTP, with the platform's registry."""
    if platform.provider.webhooks is None:
        pytest.skip(f"{platform.provider.name} receives no webhooks")
    server = SandboxServer(create_receiver(platform.settings, registry=platform.registry))
    base_url = server.start()
    try:
        yield f"{base_url}/api/v1/webhooks/{platform.provider.name}/{platform.integration_id}"
    finally:
        server.stop()


def test_a_signed_webhook_delivery_becomes_a_run_that_updates_the_warehouse(
    platform: Platform, receiver_url: str, monkeypatch: pytest.MonkeyPatch
):
    # Dagster's job builds its settings from the environment: same key, same data directory.
    monkeypatch.setenv("ENCRYPTION_KEY", platform.settings.ENCRYPTION_KEY.get_secret_value())
    kit, url = platform.kit, platform.sandbox_url
    integration = platform.connect()
    platform.sync(full_refresh=True)
    entity = platform.provider.resolve_entities(None)[0]
    ids = kit.mutate(url, entity, MUTATED)
    assert platform.stale_ids(entity) == set(ids)
    secret = kit.webhook_secret(integration)
    inbox = Inbox.from_settings(platform.settings)

    # A delivery signed with another secret, and one whose signature header is tampered with,
    # are refused and store nothing.
    headers, body = kit.signed_delivery(
        url, platform.integration_id, entity, ids, "not-" + secret, receiver_url
    )
    refused = httpx.post(receiver_url, content=body, headers=headers, timeout=30)
    assert refused.status_code == 401, refused.text
    headers, body = kit.signed_delivery(
        url, platform.integration_id, entity, ids, secret, receiver_url
    )
    tampered = dict(headers)
    signature = [k for k in headers if "signature" in k.lower()]
    assert signature, f"no signature header in {sorted(headers)}"
    for name in signature:
        tampered[name] = _corrupt(headers[name])
    refused = httpx.post(receiver_url, content=body, headers=tampered, timeout=30)
    assert refused.status_code == 401, refused.text
    assert sum(inbox.counts().values()) == 0, inbox.counts()

    accepted = httpx.post(receiver_url, content=body, headers=headers, timeout=30)

    assert 200 <= accepted.status_code < 300, accepted.text
    stored = inbox.fetch_ready()
    assert stored and {e.integration_id for e in stored} == {platform.integration_id}
    assert {e.object_id for e in stored} >= set(ids)
    webhooks = WebhooksResource(data_dir=str(platform.settings.data_dir))
    sensor = build_events_sensor(webhook_events_job, running=False)
    tick = sensor(
        dg.build_sensor_context(
            instance=dg.DagsterInstance.ephemeral(), resources={"webhooks": webhooks}
        )
    )
    assert isinstance(tick, dg.SensorResult) and tick.run_requests, tick
    for run in tick.run_requests:
        outcome = webhook_events_job.execute_in_process(
            run_config=run.run_config, resources={"webhooks": webhooks}, tags=run.tags
        )
        assert outcome.success
    platform.assert_equals_truth(entity, ids)
    assert {e.status for e in inbox.get([e.id for e in stored])} == {"processed"}
    runs = SyncRunLog(platform.registry.db).list(platform.integration_id)
    webhook_runs = [run for run in runs if run.mode != "full"]
    assert webhook_runs, "the delivery ran no sync"
    assert all(run.status == "success" and run.entities == [entity] for run in webhook_runs)


def _corrupt(value: str) -> str:
    """The same signature with its last character changed (still well-formed text)."""
    last = value[-1:]
    return value[:-1] + ("A" if last != "A" else "B")


# -- 6. secrets ---------------------------------------------------------------------------------


def _secret_config(schema: type[BaseModel], tag: str) -> dict[str, Any]:
    """A config setting every secret field of the schema (nested ones too) to a unique value."""
    config: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if _is_secret_type(info.annotation):
            config[name] = f"{tag}-{name}-s3cr3t"
        else:
            for nested in _models_in(info.annotation):
                inner = _secret_config(nested, f"{tag}-{name}")
                if inner:
                    config[name] = inner
    return config


def _values(config: Any) -> list[str]:
    if isinstance(config, dict):
        return [v for value in config.values() for v in _values(value)]
    if isinstance(config, list):
        return [v for value in config for v in _values(value)]
    return [str(config)]


def test_secrets_never_reach_plain_config_or_output(platform: Platform):
    provider, settings, registry = platform.provider, platform.settings, platform.registry
    config = _secret_config(provider.config_schema, "cfg")
    assert set(config) >= secret_fields(provider.config_schema)
    # Spellings and nesting the schema does not declare are vaulted too.
    config["Legacy-Api-Key"] = "odd-legacy-api-key-s3cr3t"
    config["labels"] = {"owner": "data team", "signingPassword": "nested-signing-s3cr3t"}
    secrets = _values({k: v for k, v in config.items() if k != "labels"})
    secrets.append("nested-signing-s3cr3t")

    registry.create(
        organization_id="org",
        user_id="user",
        type=provider.name,
        name="secrets",
        config=config,
        integration_id="secrets",
        actor="acceptance",
    )

    def assert_clean(where: str, text: str) -> None:
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{where} shows secret values {leaked}"

    stored = registry.get("secrets")
    assert stored.config == {"labels": {"owner": "data team"}}
    assert_clean("the plain config", json.dumps(stored.config))
    kinds = registry.vault.kinds("secrets")
    assert {normalise_key(k) for k in secret_fields(provider.config_schema)} <= set(kinds)

    env = {
        "DATA_DIR": str(settings.data_dir),
        "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
    }
    for args in (
        ["integrations", "list", "--json"],
        ["integrations", "list"],
        ["integrations", "show", "secrets", "--json"],
        ["integrations", "show", "secrets"],
    ):
        out = CliRunner().invoke(platform_cli, args, env=env, catch_exceptions=False)
        assert out.exit_code == 0, out.output
        assert "secrets" in out.output
        assert_clean(f"`platform {' '.join(args)}`", out.output)

    api = create_receiver(
        settings.model_copy(update={"API_KEYS": SecretStr(API_KEY)}), registry=registry
    ).test_client()
    auth = {"Authorization": f"Bearer {API_KEY}"}
    for path in ("/api/v1/integrations", "/api/v1/integrations/secrets"):
        response = api.get(path, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert_clean(f"GET {path}", response.get_data(as_text=True))

    assert_clean(
        "the audit log",
        json.dumps([e.model_dump(mode="json") for e in registry.audit.list("secrets")]),
    )
    registry.db.dispose()
    database = b"".join(
        path.read_bytes() for path in settings.data_dir.glob("control.sqlite*") if path.is_file()
    )
    assert database, "no control database file under the data directory"
    leaked = [s for s in secrets if s.encode() in database]
    assert not leaked, f"the control database file holds secret values {leaked}"


# -- 7. bad credentials -------------------------------------------------------------------------


def test_bad_credentials_fail_clearly_and_write_nothing(platform: Platform):
    platform.kit.connect_with_bad_credentials(
        platform.registry, platform.sandbox_url, platform.integration_id
    )
    runner = platform.runner()

    with pytest.raises(AuthenticationError) as raised:
        runner.run(SyncRequest(platform.integration_id, full_refresh=True))

    error = raised.value
    message = str(error)
    assert error.integration_id == platform.integration_id
    assert error.provider == platform.provider.name
    assert platform.provider.title in message or error.hint, f"unclear error: {message!r}"
    runs = runner.run_log.list(platform.integration_id)
    assert [(run.status, run.error) for run in runs] == [("failed", message)]
    tables = platform.warehouse.query(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = '{platform.dataset}'"
    )
    assert tables == [], f"tables written for a failed run: {tables}"
    pipeline = runner.pipeline(platform.integration_id, platform.provider.name)
    assert not pipeline.has_pending_data, "a load package of the failed run is pending"
