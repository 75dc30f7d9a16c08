"""The sync-run log: start, finish with figures, list newest first, on SQLite and Postgres."""

from __future__ import annotations

import pytest

from core.clock import clock
from core.errors import NotFoundError
from pipelines.run_log import SyncRunLog
from tests.control_support import BACKENDS, open_control_db


@pytest.fixture(params=BACKENDS)
def run_log(request, tmp_path):
    return SyncRunLog(open_control_db(request, tmp_path))


@pytest.fixture
def frozen_clock():
    clock.freeze(1_800_000_000.0)
    yield clock
    clock.reset()


def test_a_run_records_its_figures_and_duration(run_log, frozen_clock):
    run_id = run_log.start("hs1", "incremental", ["contacts", "deals"])
    running = run_log.get(run_id)
    assert (running.status, running.entities, running.finished_at) == (
        "running",
        ["contacts", "deals"],
        None,
    )
    frozen_clock.advance(12.5)
    run_log.finish(
        run_id,
        status="success",
        rows_loaded={"contacts": 120, "deals": 7},
        requests=9,
        rate_limit_waits=1,
        rate_limit_wait_s=2.0,
        error=None,
        load_ids=["1800000000.1"],
    )
    run = run_log.get(run_id)
    assert run.status == "success"
    assert run.duration_s == pytest.approx(12.5)
    assert run.rows_loaded == {"contacts": 120, "deals": 7}
    assert (run.requests, run.rate_limit_waits, run.rate_limit_wait_s) == (9, 1, 2.0)
    assert run.load_ids == ["1800000000.1"]


def test_failed_runs_keep_their_error_and_list_is_newest_first(run_log, frozen_clock):
    first = run_log.start("hs1", "full", ["contacts"])
    frozen_clock.advance(1)
    second = run_log.start("hs2", "full", ["companies"])
    run_log.finish(
        second,
        status="failed",
        rows_loaded={},
        requests=1,
        rate_limit_waits=0,
        rate_limit_wait_s=0.0,
        error="AuthenticationError: private app token rejected",
        load_ids=[],
    )
    assert [r.id for r in run_log.list()] == [second, first]
    assert [r.id for r in run_log.list("hs1")] == [first]
    assert run_log.get(second).error.startswith("AuthenticationError")
    assert len(run_log.list(limit=1)) == 1


def test_unknown_run_is_not_found(run_log):
    with pytest.raises(NotFoundError):
        run_log.get("nope")
    with pytest.raises(NotFoundError):
        run_log.finish(
            "nope",
            status="success",
            rows_loaded={},
            requests=0,
            rate_limit_waits=0,
            rate_limit_wait_s=0.0,
            error=None,
            load_ids=[],
        )
