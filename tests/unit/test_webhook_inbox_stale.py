"""Lost dispatches on both inbox backends: events still dispatched past a timeout are found, and
requeueing them returns them to the ready set as a counted attempt, only while they are still
dispatched under the run key the caller checked."""

from __future__ import annotations

from datetime import timedelta

from core.clock import clock
from inbox import InboundEvent, Inbox, Requeued
from tests.unit.conftest import T0

SCHEDULE = [30.0, 120.0]
TIMEOUT = timedelta(seconds=600)


def event(delivery_id: str) -> InboundEvent:
    return InboundEvent(
        provider="hubspot",
        integration_id="acme",
        delivery_id=delivery_id,
        event_type="contact.propertyChange",
        object_type="contacts",
        object_id="101",
        payload=b'{"eventId":%s}' % delivery_id.encode(),
        headers={"content-type": "application/json"},
        verification="hubspot-v3",
        received_at=T0,
    )


def ready_ids(inbox: Inbox, **kw) -> list[int]:
    return [e.id for e in inbox.fetch_ready(**kw)]


def test_only_events_dispatched_longer_than_the_timeout_are_stale(inbox):
    inbox.append([event(str(i)) for i in range(1, 5)])
    one, two, three, four = ready_ids(inbox)
    inbox.mark_dispatched([one, two], "run-old")
    clock.advance(300)
    inbox.mark_dispatched([three], "run-new")
    inbox.mark_processed([two])

    assert inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(seconds=599)) == []
    stale = inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(seconds=600))
    assert [(e.id, e.status, e.run_key) for e in stale] == [(one, "dispatched", "run-old")]
    later = inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(seconds=900))
    assert [e.id for e in later] == [one, three]
    limited = inbox.stale_dispatched(older_than=TIMEOUT, limit=1, now=T0 + TIMEOUT * 2)
    assert [e.id for e in limited] == [one]
    assert four not in [e.id for e in later]  # pending events are not dispatched at all


def test_a_redispatch_restarts_the_timeout(inbox):
    inbox.append([event("1")])
    [one] = ready_ids(inbox)
    inbox.mark_dispatched([one], "run-1")
    clock.advance(500)
    inbox.mark_dispatched([one], "run-2")

    assert inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(seconds=700)) == []
    [stale] = inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(seconds=1100))
    assert stale.run_key == "run-2"


def test_requeued_events_are_ready_at_once_behind_the_cursor_with_the_attempt_counted(inbox):
    inbox.append([event("1"), event("2")])
    one, two = ready_ids(inbox)
    inbox.mark_dispatched([one, two], "run-lost")
    clock.advance(700)

    result = inbox.requeue(
        [one, two], "no run after 600 s", run_key="run-lost", retry_schedule=SCHEDULE
    )

    assert result == Requeued(requeued=[one, two], dead_lettered=[])
    assert ready_ids(inbox, after_id=two) == [one, two]
    requeued = inbox.get([one, two])
    assert {(e.status, e.attempts, e.last_error) for e in requeued} == {
        ("failed", 1, "no run after 600 s")
    }
    assert {e.next_attempt_at for e in requeued} == {T0 + timedelta(seconds=700)}
    assert inbox.stale_dispatched(older_than=TIMEOUT, now=T0 + timedelta(days=1)) == []


def test_requeue_leaves_events_settled_or_redispatched_since_the_check(inbox):
    inbox.append([event(str(i)) for i in range(1, 5)])
    done, moved, other, kept = ready_ids(inbox)
    inbox.mark_dispatched([done, moved, other, kept], "run-lost")
    inbox.mark_processed([done])  # the run turned up after all and settled it
    inbox.mark_failed([moved], "run failed", SCHEDULE)  # a run-status sensor was first
    inbox.mark_dispatched([other], "run-other")

    result = inbox.requeue(
        [done, moved, other, kept, 999_999], "lost", run_key="run-lost", retry_schedule=SCHEDULE
    )

    assert result == Requeued(requeued=[kept], dead_lettered=[])
    stored = {e.id: e for e in inbox.get([done, moved, other, kept])}
    assert (stored[done].status, stored[done].attempts) == ("processed", 0)
    assert (stored[moved].status, stored[moved].attempts) == ("failed", 1)
    assert (stored[other].status, stored[other].run_key) == ("dispatched", "run-other")
    assert (stored[kept].status, stored[kept].attempts) == ("failed", 1)
    # a second requeue of the same lost dispatch changes nothing
    again = inbox.requeue([kept], "lost", run_key="run-lost", retry_schedule=SCHEDULE)
    assert again == Requeued(requeued=[], dead_lettered=[])
    assert inbox.get([kept])[0].attempts == 1


def test_a_dispatch_lost_after_the_last_attempt_goes_to_the_dead_letters(inbox):
    inbox.append([event("1")])
    [one] = ready_ids(inbox)
    inbox.mark_failed([one], "boom 1", SCHEDULE)
    inbox.mark_failed([one], "boom 2", SCHEDULE)
    inbox.mark_dispatched([one], "run-last")

    result = inbox.requeue(
        [one], "no run for run-last", run_key="run-last", retry_schedule=SCHEDULE
    )

    assert result == Requeued(requeued=[], dead_lettered=[one])
    [letter] = inbox.dead_letters()
    assert (letter.event_id, letter.attempts, letter.reason) == (one, 3, "no run for run-last")
    assert inbox.fetch_ready(now=T0 + timedelta(days=1)) == []
