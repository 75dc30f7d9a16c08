"""All webhook definitions: the event and replay jobs, the sensors, the webhooks resource."""

import dagster as dg

from dagster_project.defs.webhooks.jobs import replay_dead_letters_job, webhook_events_job
from dagster_project.defs.webhooks.lost_dispatches import build_lost_dispatch_sensor
from dagster_project.defs.webhooks.resources import WebhooksResource
from dagster_project.defs.webhooks.sensors import build_events_sensor, build_run_status_sensors


def webhooks_definitions(*, sensors_running: bool) -> dg.Definitions:
    return dg.Definitions(
        jobs=[webhook_events_job, replay_dead_letters_job],
        sensors=[
            build_events_sensor(webhook_events_job, running=sensors_running),
            *build_run_status_sensors(webhook_events_job, running=sensors_running),
            build_lost_dispatch_sensor(running=sensors_running),
        ],
        resources={"webhooks": WebhooksResource()},
    )
