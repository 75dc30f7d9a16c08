"""The receiver's gunicorn settings: a booted worker's start-up objects are out of the garbage
collector's reach (a full collection walked ~110,000 of them with the GIL held: the p99)."""

from __future__ import annotations

import gc
import importlib


def test_a_booted_worker_freezes_what_it_loaded(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    config = importlib.import_module("webhook_receiver.gunicorn_config")
    gc.unfreeze()
    try:
        config.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
