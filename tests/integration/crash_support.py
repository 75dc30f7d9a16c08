"""Child-process entry point for the crash-recovery test (importable under `spawn`)."""

from __future__ import annotations

from pathlib import Path


def run_full_sync(data_dir: str, key: str, integration_id: str) -> None:
    from core.settings import Settings
    from pipelines.runner import SyncRequest, SyncRunner
    from tests.integration.hubspot_support import FAST_RETRY

    settings = Settings(DATA_DIR=Path(data_dir), ENCRYPTION_KEY=key, _env_file=None)
    SyncRunner(settings, retry=FAST_RETRY).run(SyncRequest(integration_id, full_refresh=True))
