"""The webhook sensor and jobs, tested the way Dagster's own sensor tests work: a sensor context
with a cursor and an ephemeral instance, run requests and cursors asserted, and the job run in
process with the sensor's run config. Real inbox on SQLite (and once on Postgres)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from core.clock import clock
from dagster_project.defs.webhooks.definitions import webhooks_definitions
from dagster_project.defs.webhooks.jobs import replay_dead_letters_job, webhook_events_job
from dagster_project.defs.webhooks.lost_dispatches import LOST_DISPATCH_SENSOR
from dagster_project.defs.webhooks.resources import WebhooksResource
from dagster_project.defs.webhooks.sensors import (
    CANCELED_SENSOR,
    EVENTS_SENSOR,
    FAILURE_SENSOR,
    build_events_sensor,
    build_run_status_sensors,
)
from events.handlers import default_registry
from inbox import Inbox
from tests.unit.test_webhook_routing_support import hubspot_event, inbound, write_routes

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HANDLER = "sensor_test_recorder"
ROUTES = f"""
routes:
  - {{name: contacts, provider: hubspot, event: "contact.*", handler: {HANDLER}, entity: contacts}}
  - {{name: companies, provider: hubspot, event: "company.*", handler: {HANDLER}, entity: companies}}
  - {{provider: "*", event: ping, action: ignore}}
"""


class Recorder:
    """A custom handler the tests steer: records batches, fails while `failing` is set."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, str | None, list[str]]] = []
        self.failing: str | None = None

    def __call__(self, events, context):
        self.batches.append((context.integration_id, context.entity, [e.object_id for e in events]))
        if self.failing:
            raise RuntimeError(self.failing)
        return {"recorded": len(events)}


@pytest.fixture
def recorder():
    handler = Recorder()
    default_registry.register(HANDLER, handler)
    yield handler
    default_registry.unregister(HANDLER)


@pytest.fixture
def frozen_clock():
    clock.freeze(T0.timestamp())
    yield clock
    clock.reset()


@pytest.fixture
def webhooks(settings, tmp_path, recorder, frozen_clock) -> WebhooksResource:
    routes = write_routes(tmp_path / "routes.yaml", ROUTES)
    return WebhooksResource(
        data_dir=str(settings.data_dir), routes_path=str(routes), retry_schedule="30,120"
    )


@pytest.fixture
def inbox(webhooks) -> Inbox:
    box = webhooks.inbox()
    box.create_schema()
    return box


def changed(webhooks: WebhooksResource, **fields) -> WebhooksResource:
    """A copy with some fields changed (Dagster rebuilds resources from their config, so a
    pydantic model_copy would silently keep the old values)."""
    return WebhooksResource(**{**webhooks.model_dump(), **fields})


def evaluate(webhooks: WebhooksResource, cursor: str | None = None):
    sensor = build_events_sensor(webhook_events_job, running=False)
    context = dg.build_sensor_context(
        cursor=cursor,
        instance=dg.DagsterInstance.ephemeral(),
        resources={"webhooks": webhooks},
    )
    return sensor(context)


def execute(request: dg.RunRequest, webhooks: WebhooksResource, **kw) -> dg.ExecuteInProcessResult:
    return webhook_events_job.execute_in_process(
        run_config=request.run_config,
        resources={"webhooks": webhooks},
        tags=request.tags,
        raise_on_error=False,
        **kw,
    )


def statuses(inbox: Inbox, ids) -> list[str]:
    return [e.status for e in inbox.get(ids)]


def test_sensor_yields_one_run_per_integration_and_route_and_marks_events_dispatched(
    webhooks, inbox
):
    inbox.append(
        [
            hubspot_event("acme", "contact.creation", 1),
            hubspot_event("acme", "contact.propertyChange", 2),
            hubspot_event("acme", "company.propertyChange", 3),
            hubspot_event("other", "contact.creation", 4),
            inbound("github", "gh", "ping"),
            inbound("github", "gh", "star"),
        ]
    )
    ids = [e.id for e in inbox.fetch_ready()]

    result = evaluate(webhooks)

    assert isinstance(result, dg.SensorResult)
    runs = {
        r.tags["webhooks/integration"] + "/" + r.tags["webhooks/route"]: r
        for r in result.run_requests
    }
    assert sorted(runs) == ["acme/companies", "acme/contacts", "other/contacts"]
    contacts = runs["acme/contacts"]
    config = contacts.run_config["ops"]["process_webhook_events"]["config"]
    assert config == {"event_ids": ids[:2], "run_key": contacts.run_key}
    assert contacts.tags["webhooks/entity"] == "contacts"
    assert contacts.tags["webhooks/events"] == "2"
    assert len({r.run_key for r in result.run_requests}) == 3
    assert json.loads(result.cursor) == {"last_id": ids[-1], "seq": 1}
    stored = {e.id: e for e in inbox.get(ids)}
    assert [stored[i].run_key for i in ids[:2]] == [contacts.run_key] * 2
    assert [stored[i].status for i in ids] == ["dispatched"] * 4 + ["processed", "dead"]


def test_re_evaluating_a_tick_from_the_same_state_gives_the_same_run_keys(
    webhooks, inbox, tmp_path
):
    """Two inboxes in the same state, one cursor: the same run requests, so a tick Dagster
    evaluates again launches nothing twice."""
    events = [hubspot_event("acme", "contact.creation", i) for i in (1, 2, 3)]
    twin = changed(webhooks, data_dir=str(tmp_path / "twin"))
    Path(twin.data_dir).mkdir()
    for resource in (webhooks, twin):
        resource.inbox().append(events)
    cursor = json.dumps({"last_id": 0, "seq": 4})

    first, again = evaluate(webhooks, cursor), evaluate(twin, cursor)

    assert [r.run_key for r in first.run_requests] == [r.run_key for r in again.run_requests]
    assert [r.run_config for r in first.run_requests] == [r.run_config for r in again.run_requests]
    assert first.cursor == again.cursor == json.dumps({"last_id": 3, "seq": 5})


def test_the_cursor_skips_dispatched_events_and_nothing_ready_is_a_skip(webhooks, inbox):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    first = evaluate(webhooks)

    second = evaluate(webhooks, cursor=first.cursor)

    assert isinstance(second, dg.SkipReason)


def test_the_job_processes_its_events_and_marks_them_processed(webhooks, inbox, recorder):
    inbox.append([hubspot_event("acme", "contact.creation", i) for i in (1, 2)])
    [request] = evaluate(webhooks).run_requests

    result = execute(request, webhooks)

    assert result.success
    assert recorder.batches == [("acme", "contacts", ["1", "2"])]
    ids = request.run_config["ops"]["process_webhook_events"]["config"]["event_ids"]
    assert statuses(inbox, ids) == ["processed", "processed"]
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["events"].value == 2
    assert metadata["batches"].value[0]["recorded"] == 2


def test_a_failing_run_schedules_retries_with_backoff_then_dead_letters(webhooks, inbox, recorder):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    recorder.failing = "HubSpot 503"
    first = evaluate(webhooks)
    [request] = first.run_requests

    result = execute(request, webhooks)

    assert not result.success
    [event] = inbox.fetch_ready(now=T0 + timedelta(days=1))
    assert (event.status, event.attempts) == ("failed", 1)
    assert event.next_attempt_at == T0 + timedelta(seconds=30)
    assert "RuntimeError: HubSpot 503" in event.last_error

    # not due yet: the cursor is past the event and its retry waits 30 s
    assert isinstance(evaluate(webhooks, cursor=first.cursor), dg.SkipReason)

    clock.advance(31)
    second = evaluate(webhooks, cursor=first.cursor)
    [retry] = second.run_requests
    assert retry.run_key != request.run_key
    assert not execute(retry, webhooks).success
    [event] = inbox.get([event.id])
    assert (event.status, event.attempts) == ("failed", 2)
    assert event.next_attempt_at == T0 + timedelta(seconds=31 + 120)

    clock.advance(121)
    [last] = evaluate(webhooks, cursor=second.cursor).run_requests
    assert not execute(last, webhooks).success

    [event] = inbox.get([event.id])
    assert (event.status, event.attempts) == ("dead", 3)
    [letter] = inbox.dead_letters()
    assert letter.event_id == event.id
    assert "HubSpot 503" in letter.reason
    assert len(recorder.batches) == 3


def test_replay_job_sends_dead_letters_back_and_the_sensor_dispatches_them_again(
    webhooks, inbox, recorder
):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    recorder.failing = "boom"
    webhooks = changed(webhooks, retry_schedule="0")
    first = evaluate(webhooks)
    execute(first.run_requests[0], webhooks)
    second = evaluate(webhooks, cursor=first.cursor)
    execute(second.run_requests[0], webhooks)
    [letter] = inbox.dead_letters()

    replay = replay_dead_letters_job.execute_in_process(
        run_config={
            "ops": {"replay_dead_letters_op": {"config": {"event_ids": [letter.event_id]}}}
        },
        resources={"webhooks": webhooks},
    )

    assert replay.success
    assert replay.output_for_node("replay_dead_letters_op") == 1
    assert inbox.dead_letters() == []
    recorder.failing = None
    third = evaluate(webhooks, cursor=second.cursor)
    [request] = third.run_requests
    assert request.run_key not in {first.run_requests[0].run_key, second.run_requests[0].run_key}
    assert execute(request, webhooks).success
    [event] = inbox.get([letter.event_id])
    assert (event.status, event.attempts) == ("processed", 0)


def test_replay_job_refuses_an_empty_selection(webhooks, inbox):
    result = replay_dead_letters_job.execute_in_process(
        run_config={"ops": {"replay_dead_letters_op": {"config": {}}}},
        resources={"webhooks": webhooks},
        raise_on_error=False,
    )

    assert not result.success


def test_a_run_that_fails_before_settling_returns_its_events_to_retry(webhooks, inbox, tmp_path):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    broken = write_routes(tmp_path / "broken.yaml", "routes: [{provider: nowhere}]\n")
    instance = dg.DagsterInstance.ephemeral()

    result = execute(request, changed(webhooks, routes_path=str(broken)), instance=instance)

    assert not result.success
    ids = request.run_config["ops"]["process_webhook_events"]["config"]["event_ids"]
    assert statuses(inbox, ids) == ["dispatched"]
    failure_sensor, _ = build_run_status_sensors(webhook_events_job, running=False)
    context = dg.build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"webhooks": webhooks},
    ).for_run_failure()

    failure_sensor(context)

    [event] = inbox.get(ids)
    assert (event.status, event.attempts) == ("failed", 1)
    assert result.dagster_run.run_id in event.last_error
    assert event.next_attempt_at == T0 + timedelta(seconds=30)
    # a second notification for the same run changes nothing
    failure_sensor(context)
    assert inbox.get(ids)[0].attempts == 1


def test_a_run_only_touches_events_still_dispatched_to_it(webhooks, inbox, recorder):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    assert execute(request, webhooks).success

    again = execute(request, webhooks)  # a re-execution of the same run

    assert again.success
    assert len(recorder.batches) == 1


def test_definitions_hold_the_jobs_and_sensors():
    defs = webhooks_definitions(sensors_running=False)

    assert {s.name for s in defs.sensors} == {
        EVENTS_SENSOR,
        FAILURE_SENSOR,
        CANCELED_SENSOR,
        LOST_DISPATCH_SENSOR,
    }
    assert {"webhook_events_job", "replay_dead_letters_job"} <= {
        j.name for j in defs.resolve_all_job_defs()
    }
    job = defs.resolve_job_def("webhook_events_job")
    assert {d.name: d.pool for d in job.all_node_defs} == {
        "process_webhook_events": "duckdb_writer"
    }


@pytest.mark.postgres
def test_sensor_and_job_on_the_postgres_inbox(webhooks, postgres_url, recorder):
    webhooks = changed(webhooks, inbox_url=postgres_url)
    inbox = webhooks.inbox()
    inbox.create_schema()
    inbox.append([hubspot_event("acme", "contact.creation", i) for i in (1, 2)])

    [request] = evaluate(webhooks).run_requests
    recorder.failing = "first try fails"
    assert not execute(request, webhooks).success
    clock.advance(31)
    recorder.failing = None
    [retry] = evaluate(webhooks, cursor=json.dumps({"last_id": 10**9, "seq": 1})).run_requests

    assert execute(retry, webhooks).success
    ids = retry.run_config["ops"]["process_webhook_events"]["config"]["event_ids"]
    assert statuses(inbox, ids) == ["processed", "processed"]
    assert [e.attempts for e in inbox.get(ids)] == [1, 1]
    inbox.close()


def test_a_canceled_run_returns_its_events_to_retry(webhooks, inbox):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    instance = dg.DagsterInstance.ephemeral()
    run = instance.create_run_for_job(webhook_events_job, run_config=request.run_config)
    instance.report_run_canceled(run)
    [canceled] = [
        e.dagster_event
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_CANCELED"
    ]
    _, canceled_sensor = build_run_status_sensors(webhook_events_job, running=False)

    canceled_sensor(
        dg.build_run_status_sensor_context(
            sensor_name=CANCELED_SENSOR,
            dagster_event=canceled,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run.run_id),
            resources={"webhooks": webhooks},
        )
    )

    [event] = inbox.get(request.run_config["ops"]["process_webhook_events"]["config"]["event_ids"])
    assert (event.status, event.attempts) == ("failed", 1)
    assert f"run {run.run_id} was canceled" in event.last_error
