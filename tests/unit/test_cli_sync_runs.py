"""`platform sync runs` prints a header and each run's start time (UTC), newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from cli.main import main
from core.clock import clock
from pipelines.registry import IntegrationRegistry
from pipelines.run_log import SyncRunLog


@pytest.fixture
def frozen_clock():
    clock.freeze(datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC).timestamp())
    yield clock
    clock.reset()


def runs_output(settings, *args: str) -> list[str]:
    env = {"DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(main, ["sync", "runs", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_runs_have_a_header_and_start_times(settings, frozen_clock):
    log = SyncRunLog(IntegrationRegistry.from_settings(settings).db)
    first = log.start("acme-hubspot", "full", ["contacts"])
    frozen_clock.advance(12.5)
    log.finish(
        first,
        status="success",
        rows_loaded={"contacts": 1200, "deals": 34},
        requests=9,
        rate_limit_waits=0,
        rate_limit_wait_s=0.0,
        error=None,
        load_ids=[],
    )
    frozen_clock.advance(3600)
    second = log.start("acme-hubspot", "incremental", ["contacts"])

    header, newest, oldest = runs_output(settings)

    assert header.split() == [
        "RUN", "INTEGRATION", "MODE", "STATUS", "STARTED", "(UTC)", "ROWS", "SECONDS", "ERROR"
    ]  # fmt: skip
    assert newest.startswith(second) and "2024-05-01 13:00:15" in newest and "running" in newest
    assert oldest.startswith(first) and "2024-05-01 12:00:03" in oldest
    assert "1,234" in oldest and "12.5" in oldest
    # columns line up under the header
    assert header.index("STARTED") == newest.index("2024-05-01") == oldest.index("2024-05-01")


def test_no_runs_says_so(settings):
    assert runs_output(settings) == ["no sync runs recorded yet"]
