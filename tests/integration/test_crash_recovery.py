"""A sync process killed with SIGKILL while dlt loads: the rerun completes the pending package and
the warehouse equals the truth with no duplicate ids."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

from tests.integration.crash_support import run_full_sync

ENTITIES = ("contacts", "companies", "deals")


def kill_when_loading(platform) -> bool:
    settings = platform.settings
    ctx = mp.get_context("spawn")
    proc = ctx.Process(
        target=run_full_sync,
        args=(
            str(settings.data_dir),
            settings.ENCRYPTION_KEY.get_secret_value(),
            platform.integration_id,
        ),
    )
    proc.start()
    normalized = (
        settings.dlt_pipelines_dir / f"hubspot__{platform.integration_id}" / "load" / "normalized"
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.is_alive():
            if normalized.exists() and any(normalized.iterdir()):
                os.kill(proc.pid, signal.SIGKILL)
                return True
            time.sleep(0.002)
        return False
    finally:
        proc.join(30)


def test_rerun_after_sigkill_during_load_equals_the_truth(platform, sandbox):
    assert kill_when_loading(platform), "the sync finished before it could be killed mid-load"
    sandbox.mutate("contacts", 15)

    result = platform.sync()

    assert result.status == "success"
    for entity in ENTITIES:
        diff = platform.diff(entity)
        assert diff.equal, f"{entity}: {diff.summary()}"
        dupes = platform.query(f"SELECT COUNT(*) - COUNT(DISTINCT id) FROM {{ds}}.{entity}")
        assert dupes == [(0,)]
