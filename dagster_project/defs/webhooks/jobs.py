"""Webhook jobs: process a batch of inbox events, and replay dead letters.

`webhook_events_job` is launched by the webhook sensor with the batch's event ids and run key
in its config. Its op processes only events still dispatched under that run key, so a
re-executed or duplicate run never processes an event twice. It runs in the `duckdb_writer`
pool because extraction and `apply` write the warehouse (one DuckDB writer, DESIGN decision 3).
"""

import dagster as dg

from dagster_project.defs.webhooks.resources import WebhooksResource
from dagster_project.pools import DUCKDB_WRITER_POOL
from webhook_receiver.deadletters import replay_dead_letters

PROCESS_OP = "process_webhook_events"


class WebhookEventsConfig(dg.Config):
    """Which inbox events this run processes, and the run key the sensor dispatched them under."""

    event_ids: list[int]
    run_key: str


def events_run_config(event_ids: list[int], run_key: str) -> dict:
    return {"ops": {PROCESS_OP: {"config": {"event_ids": list(event_ids), "run_key": run_key}}}}


def events_of_run(run_config: dict) -> tuple[list[int], str] | None:
    """(event ids, run key) from a webhook_events_job run's config, None if it has none."""
    config = ((run_config.get("ops") or {}).get(PROCESS_OP) or {}).get("config") or {}
    if "event_ids" not in config or "run_key" not in config:
        return None
    return [int(i) for i in config["event_ids"]], str(config["run_key"])


@dg.op(name=PROCESS_OP, pool=DUCKDB_WRITER_POOL)
def process_webhook_events(
    context: dg.OpExecutionContext, config: WebhookEventsConfig, webhooks: WebhooksResource
) -> dg.Output:
    processor = webhooks.processor(logger=context.log)
    try:
        events = processor.inbox.get(config.event_ids)
        mine = [e for e in events if e.status == "dispatched" and e.run_key == config.run_key]
        skipped = sorted(set(config.event_ids) - {e.id for e in mine})
        if skipped:
            context.log.warning(
                f"{len(skipped)} events are no longer dispatched to this run (already "
                f"processed, retried or replayed elsewhere) and are left alone: {skipped[:20]}"
            )
        outcomes = processor.process(mine)
    finally:
        processor.inbox.close()
    failed = [o for o in outcomes if o.status == "failed"]
    metadata = {
        "events": len(mine),
        "skipped_events": len(skipped),
        "batches": dg.MetadataValue.json(
            [
                {
                    "batch": o.label,
                    "handler": o.handler,
                    "events": len(o.event_ids),
                    "status": o.status,
                    "error": o.error,
                    "dead_lettered": o.dead_letter_ids,
                    **o.metadata,
                }
                for o in outcomes
            ]
        ),
    }
    if failed:
        # The inbox already holds the retry (or dead letter); failing the run makes it visible.
        raise dg.Failure(
            description="; ".join(o.error or o.label for o in failed),
            metadata={"failed_batches": len(failed), **metadata},
        )
    return dg.Output(len(mine), metadata=metadata)


@dg.job(
    name="webhook_events_job",
    description="Process one batch of webhook events from the inbox through its route.",
    tags={"platform/kind": "webhooks"},
)
def webhook_events_job():
    process_webhook_events()


class ReplayDeadLettersConfig(dg.Config):
    """Which dead letters to replay: event ids, an integration, or all (explicitly)."""

    event_ids: list[int] = []
    integration_id: str | None = None
    replay_all: bool = False


@dg.op
def replay_dead_letters_op(
    context: dg.OpExecutionContext, config: ReplayDeadLettersConfig, webhooks: WebhooksResource
) -> dg.Output:
    inbox = webhooks.inbox()
    try:
        replayed = replay_dead_letters(
            inbox,
            ids=config.event_ids or None,
            integration_id=config.integration_id,
            replay_all=config.replay_all,
        )
    finally:
        inbox.close()
    context.log.info(f"{replayed} dead letters back to pending; the webhook sensor takes them")
    return dg.Output(replayed, metadata={"replayed": replayed})


@dg.job(
    name="replay_dead_letters_job",
    description="Send dead-lettered webhook events back to the inbox for another try.",
    tags={"platform/kind": "webhooks"},
)
def replay_dead_letters_job():
    replay_dead_letters_op()
