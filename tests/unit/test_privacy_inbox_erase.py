"""An erasure removes every inbox event and dead letter about the erased objects, on both
backends; the newest event is blanked instead (ids never go back), other objects stay."""

from __future__ import annotations

from tests.unit.conftest import T0
from tests.unit.test_webhook_inbox import event


def test_erase_objects_removes_events_and_dead_letters_about_those_objects_only(inbox):
    inbox.append(
        [
            event("1", object_id="7", payload=b'{"email":"ann@example.com"}'),
            event("2", object_id="8"),
            event("3", object_id="7", object_type="companies"),
            event("4", object_id="7", integration_id="other"),
            event("5", object_id="7", payload=b'{"email":"ann@example.com","n":5}'),
        ]
    )
    dead = next(e for e in inbox.fetch_ready() if e.delivery_id == "1")
    assert inbox.mark_failed([dead.id], "boom", [], now=T0) == [dead.id]

    touched = inbox.erase_objects("hubspot", "acme", "contacts", ["7"])

    assert touched == 3  # the dead letter, the blanked newest event, the deleted event 1
    assert inbox.dead_letters() == []
    remaining = {e.delivery_id: e for e in inbox.get(range(1, 100))}
    assert set(remaining) == {"2", "3", "4", "5"}
    newest = remaining["5"]
    assert (newest.payload, newest.headers, newest.object_id, newest.status) == (
        b"{}",
        {},
        None,
        "processed",
    )
    assert remaining["3"].object_id == "7" and remaining["4"].object_id == "7"


def test_erased_payloads_leave_no_bytes_in_the_sqlite_files(tmp_path):
    from inbox import Inbox

    inbox = Inbox(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    inbox.append(
        [event(str(n), object_id="7", payload=b'{"email":"ann@example.com"}') for n in range(3)]
    )
    inbox.append([event("9", object_id="8")])
    files = lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # noqa: E731
    assert b"ann@example.com" in files()

    assert inbox.erase_objects("hubspot", "acme", "contacts", ["7"]) == 3

    assert b"ann@example.com" not in files()
    inbox.close()
