"""The runner's bookkeeping: a run that fails before dlt (credentials) ends `failed` with its
error, a run row left `running` by a killed process becomes `abandoned`, and sync requests are
checked against the provider (unknown entities, by-id requests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.errors import AuthenticationError, ValidationError
from pipelines.registry import IntegrationRegistry
from pipelines.run_log import SyncRunLog
from pipelines.runner import SyncRequest, SyncRunner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(settings):
    reg = IntegrationRegistry.from_settings(settings)
    yield reg
    reg.db.dispose()


def new_hubspot(registry: IntegrationRegistry, integration_id: str = "hs-1"):
    return registry.create(
        organization_id="org",
        user_id="u",
        type="hubspot",
        name="CRM",
        integration_id=integration_id,
    )


def test_a_run_without_credentials_ends_failed_with_its_error(settings, registry):
    new_hubspot(registry)
    runner = SyncRunner(settings, registry=registry)

    with pytest.raises(AuthenticationError, match="no credentials"):
        runner.run(SyncRequest("hs-1", ["contacts"]))

    (run,) = runner.run_log.list("hs-1")
    assert run.status == "failed"
    assert "no credentials" in run.error
    assert run.provider == "hubspot"
    assert run.finished_at is not None


def test_a_run_of_a_provider_that_cannot_extract_is_refused_before_it_starts(settings, registry):
    registry.create(
        organization_id="org", user_id="u", type="github", name="GH", integration_id="gh-1"
    )
    runner = SyncRunner(settings, registry=registry)
    with pytest.raises(ValidationError, match="sync for github integrations is not available yet"):
        runner.run(SyncRequest("gh-1"))
    assert runner.run_log.list("gh-1") == []


@pytest.mark.parametrize(
    ("entities", "ids", "message"),
    [
        (["tickets"], None, "unknown HubSpot entities"),
        (["contacts", "deals"], ["1"], "exactly one entity"),
        (["contacts"], [], "no object ids"),
    ],
)
def test_bad_requests_are_clear_errors_and_start_no_run(settings, registry, entities, ids, message):
    new_hubspot(registry)
    runner = SyncRunner(settings, registry=registry)
    with pytest.raises(ValidationError, match=message):
        runner.run(SyncRequest("hs-1", entities, ids=ids))
    assert runner.run_log.list("hs-1") == []


def test_a_run_left_running_by_a_killed_process_is_marked_abandoned(settings, registry, tmp_path):
    url = settings.control_database_url
    ready = tmp_path / "started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import pathlib, time
                from pipelines.control_db import ControlDatabase
                from pipelines.run_log import SyncRunLog
                run_id = SyncRunLog(ControlDatabase({url!r})).start(
                    "hs-1", "full", ["contacts"], provider="hubspot"
                )
                pathlib.Path({str(ready)!r}).write_text(run_id)
                time.sleep(120)
                """
            ),
        ],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the child process never started its run"
        killed_run = ready.read_text()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    alive_run = SyncRunLog(registry.db).start("hs-1", "incremental", ["deals"])  # this process

    SyncRunner(settings, registry=registry)

    run_log = SyncRunLog(registry.db)
    killed = run_log.get(killed_run)
    assert killed.status == "abandoned"
    assert f"pid {child.pid}" in killed.error
    assert killed.finished_at is not None
    assert run_log.get(alive_run).status == "running"
