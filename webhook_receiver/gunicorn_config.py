"""Gunicorn settings for the receiver (`gunicorn -c python:webhook_receiver.gunicorn_config`).

Threaded (gthread) workers, WEBHOOK_THREADS threads each (64): a client that sends its body
slowly holds one thread, not a whole worker (with sync workers two slow clients took a
two-worker receiver down: /health waited 32 s and gunicorn killed both workers), and the body
read is bounded by WEBHOOK_BODY_READ_TIMEOUT_S (408 after it; see read_deadline.py). Threads of
one worker also share inbox commits (group commit), which is what lifts the accept rate: with
sync workers every delivery paid its own commit under the writers' lock. Keep-alive connections
are served too (sync workers close every connection). `--worker-class sync` is still accepted.
PROMETHEUS_MULTIPROC_DIR is set here, in the master, before any worker imports
prometheus_client, so every worker writes its metrics where /metrics can merge them; the
directory is emptied when the master starts (stale counters of a previous run would add up).
Flags on the command line override these values.
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

from core.settings import get_settings

_settings = get_settings()
MULTIPROC_DIR = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_settings.data_dir / "prometheus"))
)

bind = f"127.0.0.1:{_settings.PORT}"
workers = 2
worker_class = "gthread"
threads = _settings.WEBHOOK_THREADS
# Idle keep-alive connections wait in the worker's poller (no thread) this long.
keepalive = 5
timeout = 30
graceful_timeout = 20
# Access logs cost throughput on the hot path; pass --access-logfile - to see them.
accesslog = None
# Gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), which
# several receivers on one host would fight over; nothing here uses it.
control_socket_disable = True


def on_starting(server) -> None:
    """Start every run with an empty metrics directory."""
    if MULTIPROC_DIR.exists():
        shutil.rmtree(MULTIPROC_DIR)
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker) -> None:
    """Move what the worker loaded at start-up out of the garbage collector's reach.

    The app's imports leave ~110,000 long-lived objects (a bare Flask app: ~30,000); every
    full collection walked them all again: 66 ms with the GIL held, so every request in the
    worker waited that long (the p99). Frozen, a collection walks only what requests allocate.
    """
    gc.collect()
    gc.freeze()


def child_exit(server, worker) -> None:
    """A worker's live gauges end with it (counters stay, as Prometheus expects)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
