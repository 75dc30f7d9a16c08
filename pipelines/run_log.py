"""The sync-run log: one row per extraction or reverse-sync run, with its figures and outcome.

It records what the runner tells it; it must never run anything nor store a secret (error texts
come from the error taxonomy, which carries none).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any, Literal

import sqlalchemy as sa

from core.clock import clock
from core.errors import NotFoundError
from pipelines.control_db import ControlDatabase
from pipelines.models import SyncRun, from_epoch

MAX_ERROR_CHARS = 4000
ABANDONED_ERROR = "abandoned: the process running it ({where}) ended before the run finished"

log = logging.getLogger(__name__)
_swept: set[str] = set()
_swept_lock = threading.Lock()


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """True when a process with this id exists on this host (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SyncRunLog:
    """Start and finish runs; list them newest first."""

    def __init__(self, db: ControlDatabase) -> None:
        self._db = db

    def start(
        self, integration_id: str, mode: str, entities: list[str], provider: str | None = None
    ) -> str:
        run_id = uuid.uuid4().hex
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(self._db.sync_runs).values(
                    id=run_id,
                    integration_id=integration_id,
                    mode=mode,
                    entities=list(entities),
                    status="running",
                    started_at=clock.time(),
                    rows_loaded={},
                    requests=0,
                    rate_limit_waits=0,
                    rate_limit_wait_s=0.0,
                    load_ids=[],
                    provider=provider,
                    runner_host=this_host(),
                    runner_pid=os.getpid(),
                )
            )
        return run_id

    def mark_abandoned(self) -> list[str]:
        """Runs left `running` by a process of this host that is gone become `abandoned`.

        Rows of other hosts are left alone (their liveness cannot be seen from here); rows
        without a recorded process predate process tracking and are abandoned too.
        """
        t = self._db.sync_runs
        host = this_host()
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(t.c.id, t.c.runner_host, t.c.runner_pid).where(t.c.status == "running")
            ).all()
        gone = [
            (row.id, row.runner_host, row.runner_pid)
            for row in rows
            if row.runner_pid is None
            or (row.runner_host == host and not process_alive(int(row.runner_pid)))
        ]
        now = clock.time()
        for run_id, runner_host, runner_pid in gone:
            where = f"pid {runner_pid} on {runner_host}" if runner_pid else "unrecorded"
            with self._db.begin() as conn:
                conn.execute(
                    sa.update(t)
                    .where(t.c.id == run_id, t.c.status == "running")
                    .values(
                        status="abandoned",
                        finished_at=now,
                        error=ABANDONED_ERROR.format(where=where),
                    )
                )
        if gone:
            log.warning("marked %d sync run(s) abandoned: %s", len(gone), [g[0] for g in gone])
        return [g[0] for g in gone]

    def mark_abandoned_once(self) -> list[str]:
        """`mark_abandoned`, at most once per process and control database."""
        key = self._db.url
        with _swept_lock:
            if key in _swept:
                return []
            _swept.add(key)
        return self.mark_abandoned()

    def finish(
        self,
        run_id: str,
        *,
        status: Literal["success", "failed", "abandoned"],
        rows_loaded: dict[str, int],
        requests: int,
        rate_limit_waits: int,
        rate_limit_wait_s: float,
        error: str | None,
        load_ids: list[str],
    ) -> None:
        t = self._db.sync_runs
        finished_at = clock.time()
        with self._db.begin() as conn:
            started_at = conn.execute(
                sa.select(t.c.started_at).where(t.c.id == run_id)
            ).scalar_one_or_none()
            if started_at is None:
                raise NotFoundError(f"sync run {run_id} does not exist")
            conn.execute(
                sa.update(t)
                .where(t.c.id == run_id)
                .values(
                    status=status,
                    finished_at=finished_at,
                    duration_s=max(0.0, finished_at - started_at),
                    rows_loaded=dict(rows_loaded),
                    requests=requests,
                    rate_limit_waits=rate_limit_waits,
                    rate_limit_wait_s=rate_limit_wait_s,
                    error=error[:MAX_ERROR_CHARS] if error else None,
                    load_ids=list(load_ids),
                )
            )

    def list(self, integration_id: str | None = None, limit: int = 50) -> list[SyncRun]:
        t = self._db.sync_runs
        stmt = sa.select(t).order_by(t.c.started_at.desc(), t.c.id).limit(limit)
        if integration_id is not None:
            stmt = stmt.where(t.c.integration_id == integration_id)
        with self._db.read() as conn:
            return [_run(r._mapping) for r in conn.execute(stmt)]

    def get(self, run_id: str) -> SyncRun:
        t = self._db.sync_runs
        with self._db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"sync run {run_id} does not exist")
        return _run(row._mapping)


def _run(row: Any) -> SyncRun:
    return SyncRun(
        **{k: row[k] for k in row if k not in ("started_at", "finished_at")},
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
    )
