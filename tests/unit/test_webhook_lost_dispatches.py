"""The lost-dispatch sensor, tested like the events sensor: a sensor context over an ephemeral
Dagster instance and a real inbox. A dispatch whose run never came (the sensor tick was lost after
marking the batch) is requeued after the timeout and dispatched again under a new run key; a
queued or running run keeps its events; a run that ended without settling them loses them."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from core.clock import clock
from core.settings import get_settings
from dagster_project.defs.webhooks.jobs import webhook_events_job
from dagster_project.defs.webhooks.lost_dispatches import (
    RUN_KEY_TAG,
    build_lost_dispatch_sensor,
)
from dagster_project.defs.webhooks.resources import WebhooksResource
from events.handlers import default_registry
from inbox import Inbox
from tests.unit.test_webhook_routing_support import hubspot_event, write_routes
from tests.unit.test_webhook_sensor import ROUTES, Recorder, changed, evaluate, execute

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HANDLER = "sensor_test_recorder"  # the name ROUTES routes contacts to


@pytest.fixture
def recorder():
    handler = Recorder()
    default_registry.register(HANDLER, handler)
    yield handler
    default_registry.unregister(HANDLER)


@pytest.fixture
def webhooks(settings, tmp_path, recorder) -> WebhooksResource:
    clock.freeze(T0.timestamp())
    routes = write_routes(tmp_path / "routes.yaml", ROUTES)
    yield WebhooksResource(
        data_dir=str(settings.data_dir), routes_path=str(routes), retry_schedule="30,120"
    )
    clock.reset()


@pytest.fixture
def inbox(webhooks) -> Inbox:
    box = webhooks.inbox()
    box.create_schema()
    yield box
    box.close()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def sweep(webhooks: WebhooksResource, instance: dg.DagsterInstance):
    sensor = build_lost_dispatch_sensor(running=False)
    return sensor(dg.build_sensor_context(instance=instance, resources={"webhooks": webhooks}))


def event_ids(request: dg.RunRequest) -> list[int]:
    return request.run_config["ops"]["process_webhook_events"]["config"]["event_ids"]


def create_run(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.DagsterRun:
    """The run Dagster creates for a stored run request (it tags it with the run key); not
    started yet, as when it waits in the run queue."""
    return instance.create_run_for_job(
        webhook_events_job,
        run_config=request.run_config,
        tags={**request.tags, RUN_KEY_TAG: request.run_key},
    )


def lost_tick_is_requeued_and_dispatched_again(webhooks, inbox, instance, recorder) -> None:
    """The story both backends must tell (shared by the SQLite and the Postgres test)."""
    inbox.append([hubspot_event("acme", "contact.creation", i) for i in (1, 2)])
    # The tick marks the batch dispatched, then dies: no run, and its cursor is never stored.
    [lost] = evaluate(webhooks, cursor=None).run_requests
    ids = event_ids(lost)

    clock.advance(599)
    early = sweep(webhooks, instance)
    assert early.skip_message == "no lost webhook dispatches"
    assert {e.status for e in inbox.get(ids)} == {"dispatched"}

    clock.advance(1)
    swept = sweep(webhooks, instance)

    assert swept.skip_message == "1 lost dispatches: 2 events requeued, 0 dead-lettered"
    requeued = inbox.get(ids)
    assert {(e.status, e.attempts, e.run_key) for e in requeued} == {("failed", 1, lost.run_key)}
    assert all(lost.run_key in e.last_error and "no run" in e.last_error for e in requeued)
    # The next tick starts from the same stored cursor as the lost one, yet gets a new key.
    [again] = evaluate(webhooks, cursor=None).run_requests
    assert event_ids(again) == ids
    assert again.run_key != lost.run_key
    assert execute(again, webhooks).success
    assert [(e.status, e.attempts) for e in inbox.get(ids)] == [("processed", 1)] * 2
    assert recorder.batches == [("acme", "contacts", ["1", "2"])]
    assert sweep(webhooks, instance).skip_message == "no lost webhook dispatches"


def test_a_dispatch_whose_run_never_came_is_requeued_after_the_timeout_with_a_new_run_key(
    webhooks, inbox, instance, recorder
):
    lost_tick_is_requeued_and_dispatched_again(webhooks, inbox, instance, recorder)


@pytest.mark.postgres
def test_a_lost_dispatch_on_the_postgres_inbox(webhooks, postgres_url, instance, recorder):
    webhooks = changed(webhooks, inbox_url=postgres_url)
    inbox = webhooks.inbox()
    inbox.create_schema()
    try:
        lost_tick_is_requeued_and_dispatched_again(webhooks, inbox, instance, recorder)
    finally:
        inbox.close()


def test_events_of_a_queued_or_running_run_stay_dispatched_however_long_it_takes(
    webhooks, inbox, instance
):
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    run = create_run(instance, request)
    clock.advance(3600)  # waiting for the duckdb_writer pool, say

    assert sweep(webhooks, instance).skip_message == "no lost webhook dispatches"
    instance.handle_run_event(
        run.run_id,
        dg.DagsterEvent(
            event_type_value="PIPELINE_START", job_name=webhook_events_job.name, message="started"
        ),
    )
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    assert sweep(webhooks, instance).skip_message == "no lost webhook dispatches"

    [event] = inbox.get(event_ids(request))
    assert (event.status, event.run_key, event.attempts) == ("dispatched", request.run_key, 0)


def test_a_run_that_ended_without_settling_its_events_loses_them_to_the_retry_schedule(
    webhooks, inbox, instance
):
    """E.g. the failure sensor was stopped when the run failed: nobody else will act."""
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    run = create_run(instance, request)
    instance.report_run_failed(run)
    clock.advance(600)

    sweep(webhooks, instance)

    [event] = inbox.get(event_ids(request))
    assert (event.status, event.attempts) == ("failed", 1)
    assert f"run {run.run_id}" in event.last_error
    assert "ended FAILURE without settling" in event.last_error
    assert event.next_attempt_at == clock.now()


def test_a_dispatch_lost_on_the_last_attempt_is_dead_lettered_with_the_reason(
    webhooks, inbox, instance
):
    webhooks = changed(webhooks, retry_schedule="30")
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    first = evaluate(webhooks, cursor=None)
    clock.advance(600)
    sweep(webhooks, instance)  # attempt 1 of 2 counted: due again at once
    evaluate(webhooks, cursor=first.cursor)  # dispatched again, and lost again
    clock.advance(600)

    swept = sweep(webhooks, instance)

    assert swept.skip_message == "1 lost dispatches: 0 events requeued, 1 dead-lettered"
    [letter] = inbox.dead_letters()
    assert letter.attempts == 2
    assert "no run with that key" in letter.reason


def test_the_timeout_is_the_dispatch_timeout_setting(webhooks, inbox, instance, monkeypatch):
    assert get_settings().WEBHOOK_DISPATCH_TIMEOUT_S == 600
    monkeypatch.setenv("WEBHOOK_DISPATCH_TIMEOUT_S", "60")
    inbox.append([hubspot_event("acme", "contact.creation", 1)])
    [request] = evaluate(webhooks).run_requests
    clock.advance(59)
    assert sweep(webhooks, instance).skip_message == "no lost webhook dispatches"

    clock.advance(1)

    assert sweep(webhooks, instance).skip_message.startswith("1 lost dispatches")
    short = changed(webhooks, dispatch_timeout_s=5)
    inbox.append([hubspot_event("acme", "contact.creation", 2)])
    evaluate(short, cursor=None)  # takes the new event and the requeued one
    clock.advance(5)
    assert sweep(short, instance).skip_message.startswith("1 lost dispatches: 2 events")
