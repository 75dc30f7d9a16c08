"""The webhook sensor turns ready inbox events into runs; two run-status sensors return the
events of failed or canceled runs to the retry schedule.

Cursor (JSON): `last_id`, the greatest event id seen, so each tick reads only new pending
events (the inbox also returns due retries and replayed dead letters whatever their id), and
`seq`, a dispatch counter that enters the run keys. A run key hashes the batch's sorted
(event id, attempts) pairs and `seq`: re-evaluating a tick gives the same keys (Dagster launches
each run once), while a retry or a replay gets a new key instead of being skipped as a
duplicate.

Runs that end without settling their events (the process crashed, the run was canceled, the op
failed before it could mark anything) leave them `dispatched`: the run-status sensors put those
back on the retry schedule, so after the last attempt they reach the dead letters too.
"""

import json
from dataclasses import dataclass

import dagster as dg

from core.clock import clock
from dagster_project.defs.webhooks.jobs import events_of_run, events_run_config
from dagster_project.defs.webhooks.resources import WebhooksResource
from events.routing import EventProcessor, plan_dispatch, run_key_for

EVENTS_SENSOR = "webhook_events_sensor"
FAILURE_SENSOR = "webhook_run_failure_sensor"
CANCELED_SENSOR = "webhook_run_canceled_sensor"
MAX_EVENTS_PER_TICK = 1000


@dataclass(frozen=True)
class SensorCursor:
    last_id: int = 0
    seq: int = 0

    @classmethod
    def parse(cls, raw: str | None) -> "SensorCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data.get("last_id", 0)), int(data.get("seq", 0)))

    def dump(self) -> str:
        return json.dumps({"last_id": self.last_id, "seq": self.seq}, sort_keys=True)


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def build_events_sensor(job: dg.JobDefinition, *, running: bool) -> dg.SensorDefinition:
    @dg.sensor(
        name=EVENTS_SENSOR,
        job=job,
        minimum_interval_seconds=10,
        default_status=_status(running),
        description="Dispatches ready webhook events to runs, one per integration and route.",
    )
    def webhook_events_sensor(context: dg.SensorEvaluationContext, webhooks: WebhooksResource):
        cursor = SensorCursor.parse(context.cursor)
        processor = webhooks.processor(logger=context.log)
        try:
            return dispatch_ready_events(context, processor, cursor)
        finally:
            processor.inbox.close()

    return webhook_events_sensor


def dispatch_ready_events(
    context: dg.SensorEvaluationContext, processor: EventProcessor, cursor: SensorCursor
) -> dg.SensorResult | dg.SkipReason:
    """One tick: read ready events past the cursor (plus due retries), settle those that need
    no run, mark each batch dispatched under its run key and request its run."""
    inbox = processor.inbox
    events = inbox.fetch_ready(after_id=cursor.last_id, limit=MAX_EVENTS_PER_TICK, now=clock.now())
    if not events:
        return dg.SkipReason("no webhook events ready")
    plan = plan_dispatch(events, processor.routes)
    processor.settle_without_run(plan)
    seq = cursor.seq + 1 if plan.batches else cursor.seq
    requests = []
    for batch in plan.batches:
        run_key = run_key_for(batch.events, seq)
        inbox.mark_dispatched(batch.event_ids, run_key)
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                run_config=events_run_config(batch.event_ids, run_key),
                tags={
                    "webhooks/integration": batch.integration_id,
                    "webhooks/route": batch.match.label,
                    "webhooks/entity": batch.entity or "-",
                    "webhooks/events": str(len(batch.events)),
                },
            )
        )
    last_id = max(cursor.last_id, *(e.id for e in events))
    context.log.info(
        f"{len(events)} events: {len(requests)} runs, {len(plan.ignored)} ignored, "
        f"{len(plan.unrouted)} unrouted (dead-lettered)"
    )
    return dg.SensorResult(run_requests=requests, cursor=SensorCursor(last_id, seq).dump())


def return_run_events_to_retry(
    context: dg.RunStatusSensorContext, webhooks: WebhooksResource, why: str
) -> list[int]:
    """Put the events a run left `dispatched` back on the retry schedule; returns their ids."""
    found = events_of_run(context.dagster_run.run_config or {})
    if found is None:
        return []
    ids, run_key = found
    settings = webhooks.settings()
    inbox = webhooks.inbox(settings)
    try:
        events = inbox.get(ids)
        stuck = [e.id for e in events if e.status == "dispatched" and e.run_key == run_key]
        if not stuck:
            return []
        reason = f"run {context.dagster_run.run_id} {why}"
        dead = inbox.mark_failed(stuck, reason, settings.webhook_retry_schedule)
    finally:
        inbox.close()
    context.log.warning(
        f"{len(stuck)} events of run {context.dagster_run.run_id} back to retry "
        f"({len(dead)} dead-lettered): {reason[:300]}"
    )
    return stuck


def build_run_status_sensors(job: dg.JobDefinition, *, running: bool) -> list[dg.SensorDefinition]:
    @dg.run_failure_sensor(
        name=FAILURE_SENSOR,
        monitored_jobs=[job],
        default_status=_status(running),
        description="Returns events of a failed webhook run to the retry schedule.",
    )
    def webhook_run_failure_sensor(context: dg.RunFailureSensorContext, webhooks: WebhooksResource):
        message = context.failure_event.message or "failed"
        return_run_events_to_retry(context, webhooks, f"failed: {message}")

    @dg.run_status_sensor(
        name=CANCELED_SENSOR,
        run_status=dg.DagsterRunStatus.CANCELED,
        monitored_jobs=[job],
        default_status=_status(running),
        description="Returns events of a canceled webhook run to the retry schedule.",
    )
    def webhook_run_canceled_sensor(context: dg.RunStatusSensorContext, webhooks: WebhooksResource):
        return_run_events_to_retry(context, webhooks, "was canceled")

    return [webhook_run_failure_sensor, webhook_run_canceled_sensor]
