"""The lost-dispatch sensor: events dispatched to a run that will never settle them go back to
the ready set.

The events sensor marks a batch `dispatched` before Dagster stores the tick's run request. If
the sensor process dies in between, or the tick fails after marking a batch, no run with that
run key will ever exist and the events would wait forever. Runs that ended without settling
their events are normally handled by the run-status sensors; this sensor also covers the ones
those sensors missed (e.g. while they were stopped).

Every minute it asks the inbox for events dispatched longer than `WEBHOOK_DISPATCH_TIMEOUT_S`
and Dagster for the runs with each batch's run key. It must never requeue events whose run is
queued or in progress: a queued run can wait for the `duckdb_writer` pool far longer than the
timeout. Requeueing counts an attempt, which gives the next dispatch a new run key.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from core.clock import clock
from dagster_project.defs.webhooks.resources import WebhooksResource
from inbox import Inbox, Requeued

LOST_DISPATCH_SENSOR = "webhook_lost_dispatch_sensor"
RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster puts on every run a sensor requested
MAX_STALE_EVENTS_PER_TICK = 5000


@dataclass(frozen=True)
class LostDispatch:
    """One run key whose events were returned to the ready set, and why."""

    run_key: str
    reason: str
    result: Requeued


def _reason(run_key: str, runs: list[dg.DagsterRun], timeout_s: float) -> str:
    if not runs:
        return (
            f"dispatched under run key {run_key} more than {timeout_s:g} s ago, but Dagster has "
            "no run with that key (the dispatching sensor tick was lost)"
        )
    last = runs[0]  # get_runs returns the newest first
    return (
        f"run {last.run_id} (run key {run_key}) ended {last.status.value} without settling its "
        f"events, more than {timeout_s:g} s after they were dispatched"
    )


def requeue_lost_dispatches(
    instance: dg.DagsterInstance,
    inbox: Inbox,
    *,
    timeout_s: float,
    retry_schedule: list[float],
    now: datetime | None = None,
) -> list[LostDispatch]:
    """Requeue the events of every stale dispatch whose run is absent or finished."""
    stale = inbox.stale_dispatched(
        older_than=timedelta(seconds=timeout_s), now=now, limit=MAX_STALE_EVENTS_PER_TICK
    )
    by_run_key: dict[str, list[int]] = {}
    for event in stale:
        if event.run_key:  # every dispatch sets one; a row without cannot be matched to a run
            by_run_key.setdefault(event.run_key, []).append(event.id)
    lost: list[LostDispatch] = []
    for run_key, ids in by_run_key.items():
        runs = list(instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key})))
        if any(not run.is_finished for run in runs):
            continue  # queued or running: that run will settle the events
        reason = _reason(run_key, runs, timeout_s)
        result = inbox.requeue(ids, reason, run_key=run_key, retry_schedule=retry_schedule, now=now)
        if result.requeued or result.dead_lettered:
            lost.append(LostDispatch(run_key, reason, result))
    return lost


def build_lost_dispatch_sensor(*, running: bool) -> dg.SensorDefinition:
    @dg.sensor(
        name=LOST_DISPATCH_SENSOR,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description="Requeues webhook events dispatched to a run that never came or ended "
        "without settling them.",
    )
    def webhook_lost_dispatch_sensor(
        context: dg.SensorEvaluationContext, webhooks: WebhooksResource
    ) -> dg.SkipReason:
        settings = webhooks.settings()
        inbox = webhooks.inbox(settings)
        try:
            lost = requeue_lost_dispatches(
                context.instance,
                inbox,
                timeout_s=settings.WEBHOOK_DISPATCH_TIMEOUT_S,
                retry_schedule=settings.webhook_retry_schedule,
                now=clock.now(),
            )
        finally:
            inbox.close()
        for item in lost:
            context.log.warning(
                f"{len(item.result.requeued)} events requeued, "
                f"{len(item.result.dead_lettered)} dead-lettered: {item.reason}"
            )
        if not lost:
            return dg.SkipReason("no lost webhook dispatches")
        requeued = sum(len(item.result.requeued) for item in lost)
        dead = sum(len(item.result.dead_lettered) for item in lost)
        return dg.SkipReason(
            f"{len(lost)} lost dispatches: {requeued} events requeued, {dead} dead-lettered"
        )

    return webhook_lost_dispatch_sensor
