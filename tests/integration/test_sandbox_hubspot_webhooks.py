"""The HubSpot sandbox sends signed webhook batches on every mutation, over real HTTP, to a
local receiver: event fields, subscriptions, batching, signatures (checked with an independent
implementation of HubSpot's formulas written here), retries, faults, flush, and HubSpot's
webhooks management API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.common.server import SandboxServer, start_sandbox_process
from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig
from tests.integration.hubspot_support import PRIVATE_APP_TOKEN, SMALL_PORTAL, Sandbox

AUTH = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}
SECRET = "sandbox-client-secret"  # the app's OAuth client secret: HubSpot signs with it
APP_ID, PORTAL_ID, USER_ID = 1234567, 62515, 7654321
FAST_RETRY = {"initial_delay_ms": 5, "multiplier": 2.0, "max_delay_ms": 50, "jitter": 0.0}
HAPIKEY = {"hapikey": "sandbox-developer-api-key"}


# --- an independent implementation of HubSpot's signatures (providers.md 1.11) -------------
def expected_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def expected_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(f"{secret}{method}{uri}".encode() + body).hexdigest()


def expected_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    uri = uri.partition("#")[0]
    for code, char in (
        ("3A", ":"), ("2F", "/"), ("3F", "?"), ("40", "@"), ("21", "!"), ("24", "$"),
        ("27", "'"), ("28", "("), ("29", ")"), ("2A", "*"), ("2C", ","), ("3B", ";"),
    ):  # fmt: skip
        uri = uri.replace("%" + code, char).replace("%" + code.lower(), char)
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


# --- a tiny receiver that records every request ---------------------------------------------
@dataclass
class Received:
    method: str
    url: str  # as called: http://host:port + request target
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def events(self) -> list[dict[str, Any]]:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())

    def v3_valid(self, secret: str = SECRET) -> bool:
        sig, ts = self.header("X-HubSpot-Signature-v3"), self.header("X-HubSpot-Request-Timestamp")
        if sig is None or ts is None:
            return False
        expected = expected_v3(secret, self.method, self.url, self.body, ts)
        return hmac.compare_digest(sig, expected)


@dataclass
class Receiver:
    """Answers with `statuses` in order (then 200); `delays_s` likewise; `verify` answers 401
    to a request whose v3 signature does not verify or whose timestamp is stale."""

    statuses: list[int] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)
    verify: bool = False
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            n = len(self.requests)
            status = self.statuses[n] if n < len(self.statuses) else 200
            delay = self.delays_s[n] if n < len(self.delays_s) else 0.0
            received = Received(method, url, headers, body, status)
            if self.verify and not (received.v3_valid() and fresh(received)):
                received.status = status = 401
            self.requests.append(received)
        if delay:
            time.sleep(delay)
        return status

    def events(self) -> list[dict[str, Any]]:
        return [e for r in self.requests if r.status < 300 for e in r.events]


def fresh(received: Received) -> bool:
    ts = int(received.header("X-HubSpot-Request-Timestamp") or 0)
    return abs(time.time() * 1000 - ts) <= 300_000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = f"http://{self.headers['Host']}{self.path}"
            status = state.answer("POST", url, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/webhooks/hubspot/itest"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def configure(sandbox: Sandbox, receiver: Receiver, **settings: Any) -> dict[str, Any]:
    """Point the sandbox at the receiver. Batches wait for an explicit flush (60 s interval),
    so a test sees its events in one request, in order, however slow the machine is."""
    body = {
        "target_url": receiver.url,
        "retry": FAST_RETRY,
        "flush_interval_ms": 60_000,
        **settings,
    }
    return sandbox.admin("POST", "webhooks", json=body)


def flush(sandbox: Sandbox, **kw: Any) -> dict[str, Any]:
    return sandbox.admin("POST", "webhooks/flush", json={"timeout_s": 20, **kw})


def api(sandbox: Sandbox, method: str, path: str, **kw: Any) -> httpx.Response:
    response = sandbox.http.request(method, path, headers=AUTH, **kw)
    assert response.status_code < 300, response.text
    return response


def by_type(events: list[dict[str, Any]], subscription_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["subscriptionType"] == subscription_type]


# --- tests ----------------------------------------------------------------------------------
def test_api_writes_arrive_as_one_signed_v3_batch(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver)
    created = api(
        sandbox,
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "ada@example.com", "firstname": "Ada"}},
    ).json()
    cid = int(created["id"])
    api(sandbox, "PATCH", f"/crm/v3/objects/contacts/{cid}", json={"properties": {"city": "Bonn"}})
    api(sandbox, "DELETE", f"/crm/v3/objects/contacts/{cid}")
    assert flush(sandbox)["drained"] is True

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.method == "POST" and request.url == receiver.url
    assert request.header("Content-Type") == "application/json"
    assert request.v3_valid() and fresh(request)
    assert request.header("X-HubSpot-Signature-Version") == "v1"  # legacy header rides along
    assert request.header("X-HubSpot-Signature") == expected_v1(SECRET, request.body)
    assert request.header("User-Agent", ).startswith("HubSpot Connect 2.0")  # fmt: skip

    events = request.events
    kinds = [(e["subscriptionType"], e.get("propertyName")) for e in events]
    assert kinds == [
        ("contact.creation", None),
        ("contact.propertyChange", "email"),
        ("contact.propertyChange", "firstname"),
        ("contact.propertyChange", "city"),
        ("contact.deletion", None),
    ]
    assert len({e["eventId"] for e in events}) == 5
    for event in events:
        assert event["objectId"] == cid
        assert event["portalId"] == PORTAL_ID and event["appId"] == APP_ID
        assert event["attemptNumber"] == 0
        assert event["changeSource"] == "API" and event["sourceId"] == str(APP_ID)
        assert isinstance(event["occurredAt"], int) and isinstance(event["subscriptionId"], int)
    assert events[0]["changeFlag"] == "NEW" and events[-1]["changeFlag"] == "DELETED"
    assert events[3]["propertyValue"] == "Bonn"
    # HubSpot's field order: eventId, subscriptionId, portalId, appId, occurredAt, type, attempt
    assert list(events[0])[:7] == [
        "eventId",
        "subscriptionId",
        "portalId",
        "appId",
        "occurredAt",
        "subscriptionType",
        "attemptNumber",
    ]


def test_admin_mutations_arrive_as_crm_ui_changes(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver, subscriptions=["contact.propertyChange", "contact.deletion"])
    mutated = sandbox.mutate("contacts", 3, properties={"jobtitle": "Engineer"})
    archived = sandbox.admin("POST", "archive", json={"object_type": "contacts", "count": 2})
    flush(sandbox)

    events = receiver.events()
    changes = by_type(events, "contact.propertyChange")
    assert sorted(e["objectId"] for e in changes) == sorted(int(i) for i in mutated["ids"])
    assert {(e["propertyName"], e["propertyValue"]) for e in changes} == {("jobtitle", "Engineer")}
    assert {e["changeSource"] for e in events} == {"CRM_UI"}
    assert {e["sourceId"] for e in events} == {f"userId:{USER_ID}"}
    deletions = by_type(events, "contact.deletion")
    assert sorted(e["objectId"] for e in deletions) == sorted(int(i) for i in archived["ids"])

    # the same value again is no change, so no event
    before = len(receiver.events())
    sandbox.mutate("contacts", ids=mutated["ids"], properties={"jobtitle": "Engineer"})
    flush(sandbox)
    assert len(receiver.events()) == before


def test_a_named_property_subscription_ignores_other_properties(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    settings = configure(sandbox, receiver, subscriptions=["contact.propertyChange:email"])
    subscription_id = settings["settings"]["subscriptions"][0]["id"]
    cid = sandbox.mutate("contacts", 1, properties={"jobtitle": "CTO"})["ids"][0]
    sandbox.mutate("contacts", ids=[cid], properties={"email": "cto@example.org"})
    sandbox.mutate("companies", 1, properties={"city": "Lyon"})
    flush(sandbox)

    events = receiver.events()
    assert [(e["propertyName"], e["propertyValue"]) for e in events] == [
        ("email", "cto@example.org")
    ]
    assert events[0]["subscriptionId"] == subscription_id


def test_events_are_batched_at_most_100_per_request(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver, subscriptions=["contact.propertyChange"])
    sandbox.mutate("contacts", 250, properties={"jobtitle": "Batched"})
    result = flush(sandbox)

    sizes = sorted(len(r.events) for r in receiver.requests)
    assert sizes == [50, 100, 100]
    assert len({e["eventId"] for e in receiver.events()}) == 250
    assert result["deliveries"]["delivered"] == 3 and result["pending_events"] == 0


def test_smaller_batch_size_and_interval_are_honoured(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver, subscriptions=["deal.propertyChange"], max_batch_size=7)
    sandbox.mutate("deals", 20, properties={"dealname": "Seven"})
    flush(sandbox)
    assert sorted(len(r.events) for r in receiver.requests) == [6, 7, 7]


def test_the_sender_delivers_in_the_background_without_a_flush(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    configure(sandbox, receiver, subscriptions=["contact.propertyChange"], flush_interval_ms=20)
    sandbox.mutate("contacts", 3, properties={"city": "Background"})

    def delivered() -> int | None:
        return sandbox.admin("GET", "webhooks")["status"]["counters"].get("events_delivered")

    # The receiver holds a batch before its 2xx reaches the sender, which only then counts
    # it as delivered: wait for both.
    deadline = time.monotonic() + 20
    while (len(receiver.events()) < 3 or delivered() != 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(e["propertyValue"] for e in receiver.events()) == ["Background"] * 3
    assert sandbox.admin("GET", "webhooks")["status"]["counters"]["events_delivered"] == 3


def test_failures_are_retried_with_an_increasing_attempt_number(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500]
    configure(sandbox, receiver, subscriptions=["company.propertyChange"])
    sandbox.mutate("companies", 2, properties={"city": "Retry"})
    flush(sandbox, expedite_retries=False)  # wait through the real (fast) backoff

    assert [r.status for r in receiver.requests] == [500, 500, 200]
    attempts = [{e["attemptNumber"] for e in r.events} for r in receiver.requests]
    assert attempts == [{0}, {1}, {2}]
    ids = [[e["eventId"] for e in r.events] for r in receiver.requests]
    assert ids[0] == ids[1] == ids[2]
    assert all(r.v3_valid() for r in receiver.requests)  # every attempt is signed afresh

    log = sandbox.admin("GET", "webhooks/deliveries")["deliveries"]
    assert len(log) == 1
    assert log[0]["status"] == "delivered" and log[0]["response_code"] == 200
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 500, 200]
    assert [a["attemptNumber"] for a in log[0]["attempts"]] == [0, 1, 2]


def test_delivery_gives_up_after_the_last_retry(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.statuses = [503] * 10
    configure(
        sandbox,
        receiver,
        subscriptions=["deal.propertyChange"],
        retry={**FAST_RETRY, "max_retries": 2},
    )
    sandbox.mutate("deals", 1, properties={"dealname": "Doomed"})
    flush(sandbox)

    assert len(receiver.requests) == 3
    failed = sandbox.admin("GET", "webhooks/deliveries", params={"status": "failed"})
    assert [d["attempt_count"] for d in failed["deliveries"]] == [3]
    assert failed["status"]["counters"]["events_failed"] == 1


def test_a_timeout_is_a_failure_that_is_retried(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.delays_s = [1.0]
    configure(sandbox, receiver, subscriptions=["contact.propertyChange"], timeout_ms=200)
    sandbox.mutate("contacts", 1, properties={"city": "Slow"})
    flush(sandbox)

    delivery = sandbox.admin("GET", "webhooks/deliveries")["deliveries"][0]
    assert [a["error"] for a in delivery["attempts"]] == ["timeout", None]
    assert delivery["status"] == "delivered"
    assert receiver.requests[0].header("X-HubSpot-Timeout-Millis") == "200"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_v1_and_v2_signatures(sandbox: Sandbox, receiver: Receiver, version: str) -> None:
    configure(
        sandbox,
        receiver,
        signature_version=version,
        client_secret="another-secret",
        subscriptions=["contact.creation"],
    )
    sandbox.admin("POST", "create", json={"object_type": "contacts", "count": 1})
    flush(sandbox)

    request = receiver.requests[0]
    assert request.header("X-HubSpot-Signature-Version") == version
    assert request.header("X-HubSpot-Signature-v3") is None
    expected = (
        expected_v1("another-secret", request.body)
        if version == "v1"
        else expected_v2("another-secret", "POST", request.url, request.body)
    )
    assert request.header("X-HubSpot-Signature") == expected


def test_v3_signs_the_exact_url_with_its_query_string(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.url += "?portal=62515&tag=a%3Ab%2Cc&space=%20x"
    configure(sandbox, receiver, subscriptions=["contact.creation"])
    sandbox.admin("POST", "create", json={"object_type": "contacts", "count": 1})
    flush(sandbox)

    request = receiver.requests[0]
    assert request.url == receiver.url
    assert request.v3_valid()


def test_signature_url_knob_signs_the_public_url_behind_a_proxy(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    public = "https://platform.example.com/api/v1/webhooks/hubspot/itest"
    configure(sandbox, receiver, signature_url=public, subscriptions=["contact.creation"])
    sandbox.admin("POST", "create", json={"object_type": "contacts", "count": 1})
    flush(sandbox)

    request = receiver.requests[0]
    ts = request.header("X-HubSpot-Request-Timestamp") or ""
    assert request.header("X-HubSpot-Signature-v3") == expected_v3(
        SECRET, "POST", public, request.body, ts
    )


def test_association_changes_fire_on_both_sides(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(
        sandbox, receiver, subscriptions=["contact.associationChange", "company.associationChange"]
    )
    contact = sandbox.admin("POST", "create", json={"object_type": "contacts"})["ids"][0]
    company = sandbox.admin("POST", "create", json={"object_type": "companies"})["ids"][0]
    path = f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}"
    api(sandbox, "PUT", path)
    api(sandbox, "PUT", path)  # already associated: no second event
    api(sandbox, "DELETE", f"/crm/v4/objects/contacts/{contact}/associations/companies/{company}")
    flush(sandbox)

    events = receiver.events()
    summary = [
        (e["subscriptionType"], e["associationType"], e["fromObjectId"], e["toObjectId"])
        for e in events
    ]
    c, k = int(contact), int(company)
    assert summary == [
        ("contact.associationChange", "CONTACT_TO_COMPANY", c, k),
        ("company.associationChange", "COMPANY_TO_CONTACT", k, c),
        ("contact.associationChange", "CONTACT_TO_COMPANY", c, k),
        ("company.associationChange", "COMPANY_TO_CONTACT", k, c),
    ]
    assert [e["associationRemoved"] for e in events] == [False, False, True, True]
    assert {e["isPrimaryAssociation"] for e in events} == {False}
    assert {e["changeSource"] for e in events} == {"API"}


def test_batch_endpoints_report_every_record(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver, subscriptions=["deal.creation", "deal.deletion"])
    inputs = [{"properties": {"dealname": f"Batch {n}", "amount": "10"}} for n in range(3)]
    created = api(sandbox, "POST", "/crm/v3/objects/deals/batch/create", json={"inputs": inputs})
    ids = [r["id"] for r in created.json()["results"]]
    archive = {"inputs": [{"id": i} for i in ids]}
    api(sandbox, "POST", "/crm/v3/objects/deals/batch/archive", json=archive)
    api(sandbox, "POST", "/crm/v3/objects/deals/batch/archive", json=archive)  # gone: no events
    flush(sandbox)

    events = receiver.events()
    assert sorted(e["objectId"] for e in by_type(events, "deal.creation")) == sorted(
        int(i) for i in ids
    )
    assert sorted(e["objectId"] for e in by_type(events, "deal.deletion")) == sorted(
        int(i) for i in ids
    )


def test_duplicate_fault_sends_the_same_signed_request_twice(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    configure(sandbox, receiver, subscriptions=["contact.creation"])
    sandbox.admin("POST", "webhooks/faults", json={"rate_duplicate": 1.0, "next_n": 1})
    sandbox.admin("POST", "create", json={"object_type": "contacts"})
    flush(sandbox)

    first, second = receiver.requests
    assert first.body == second.body and first.headers == second.headers
    params = {"include_body": "true", "include_events": "true"}
    delivery = sandbox.admin("GET", "webhooks/deliveries", params=params)["deliveries"][0]
    assert delivery["last_body"].encode() == first.body  # the log shows the exact bytes sent
    assert delivery["last_headers"]["x-hubspot-signature-v3"] == first.header(
        "X-HubSpot-Signature-v3"
    )
    assert [e["eventId"] for e in delivery["events"]] == [e["eventId"] for e in first.events]
    assert delivery["attempts"][0]["fault"] == "duplicate"
    assert delivery["attempts"][0]["duplicate_status_code"] == 200


def test_corrupt_signature_is_refused_then_the_retry_passes(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.verify = True
    configure(sandbox, receiver, subscriptions=["contact.creation"])
    sandbox.admin("POST", "webhooks/faults", json={"rate_corrupt_signature": 1.0, "next_n": 1})
    sandbox.admin("POST", "create", json={"object_type": "contacts"})
    flush(sandbox)

    assert [r.status for r in receiver.requests] == [401, 200]
    assert not receiver.requests[0].v3_valid() and receiver.requests[1].v3_valid()
    assert receiver.requests[0].header("X-HubSpot-Signature") != expected_v1(
        SECRET, receiver.requests[0].body
    )


def test_stale_timestamp_is_signed_but_outside_the_window(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.verify = True
    configure(sandbox, receiver, subscriptions=["contact.creation"])
    sandbox.admin("POST", "webhooks/faults", json={"rate_stale_timestamp": 1.0, "next_n": 1})
    sandbox.admin("POST", "create", json={"object_type": "contacts"})
    flush(sandbox)

    stale, ok = receiver.requests
    assert stale.status == 401 and stale.v3_valid() and not fresh(stale)
    assert ok.status == 200 and fresh(ok)


def test_flush_reports_504_while_a_retry_is_still_waiting(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    configure(
        sandbox,
        receiver,
        subscriptions=["contact.creation"],
        retry={"initial_delay_ms": 60_000, "jitter": 0.0},
    )
    sandbox.admin("POST", "create", json={"object_type": "contacts"})
    response = sandbox.http.post(
        "/_sandbox/webhooks/flush", json={"timeout_s": 1, "expedite_retries": False}
    )
    assert response.status_code == 504
    body = response.json()
    assert body["drained"] is False and body["scheduled_deliveries"] == 1
    retrying = sandbox.admin("GET", "webhooks/deliveries", params={"status": "retrying"})
    assert retrying["deliveries"][0]["next_attempt_at_ms"] is not None

    assert flush(sandbox)["drained"] is True  # expedited: the retry goes now
    assert [r.status for r in receiver.requests] == [500, 200]


def test_reset_and_disable_discard_queued_events(sandbox: Sandbox, receiver: Receiver) -> None:
    configure(sandbox, receiver, subscriptions=["contact.propertyChange"])
    sandbox.mutate("contacts", 5, properties={"city": "Queued"})
    status = sandbox.admin("GET", "webhooks")["status"]
    assert status["pending_events"] == 5
    sandbox.admin("POST", "webhooks", json={"enabled": False})
    flush(sandbox)
    assert receiver.requests == []
    assert sandbox.admin("GET", "webhooks")["status"]["counters"]["events_discarded"] == 5

    sandbox.reset()  # a reset turns webhooks off: no target configured
    sandbox.mutate("contacts", 2)
    flush(sandbox)
    assert receiver.requests == []


def test_invalid_admin_settings_are_refused(sandbox: Sandbox, receiver: Receiver) -> None:
    for body in (
        {"target_url": "ftp://nowhere"},
        {"signature_version": "v4"},
        {"subscriptions": ["contact.teleport"]},
        {"subscriptions": ["contact.creation:email"]},
        {"max_batch_size": 101},
        {"unknown": 1},
    ):
        response = sandbox.http.post("/_sandbox/webhooks", json=body)
        assert response.status_code == 400, body
        assert response.json()["category"] == "VALIDATION_ERROR"
    assert sandbox.admin("GET", "webhooks")["settings"]["target_url"] is None


def test_hubspot_management_api_configures_the_sender(sandbox: Sandbox, receiver: Receiver) -> None:
    base = f"/webhooks/v3/{APP_ID}"
    http = sandbox.http
    assert http.get(f"{base}/settings").status_code == 401
    assert http.get(f"{base}/settings", params={"hapikey": "wrong"}).status_code == 401
    assert http.get(f"{base}/settings", params=HAPIKEY).status_code == 404  # none yet
    assert http.get("/webhooks/v3/999/settings", params=HAPIKEY).status_code == 404

    put = http.put(
        f"{base}/settings",
        params=HAPIKEY,
        json={"targetUrl": receiver.url, "throttling": {"maxConcurrentRequests": 5}},
    )
    assert put.status_code == 200, put.text
    assert put.json()["targetUrl"] == receiver.url
    assert put.json()["throttling"] == {"maxConcurrentRequests": 5, "period": "SECONDLY"}

    for sub in http.get(f"{base}/subscriptions", params=HAPIKEY).json()["results"]:
        assert http.delete(f"{base}/subscriptions/{sub['id']}", params=HAPIKEY).status_code == 204
    created = http.post(
        f"{base}/subscriptions",
        params=HAPIKEY,
        json={"eventType": "contact.propertyChange", "propertyName": "city"},
    )
    assert created.status_code == 201
    sub = created.json()
    assert sub["active"] is False and sub["propertyName"] == "city"  # HubSpot: inactive first
    conflict = http.post(
        f"{base}/subscriptions",
        params=HAPIKEY,
        json={"eventType": "contact.propertyChange", "propertyName": "city"},
    )
    assert conflict.status_code == 409

    sandbox.mutate("contacts", 1, properties={"city": "Inactive"})
    flush(sandbox)
    assert receiver.events() == []

    batch = http.post(
        f"{base}/subscriptions/batch/update",
        params=HAPIKEY,
        json={"inputs": [{"id": int(sub["id"]), "active": True}, {"id": 999, "active": True}]},
    )
    assert batch.status_code == 207 and batch.json()["results"][0]["active"] is True
    sandbox.mutate("contacts", 1, properties={"city": "Active"})
    flush(sandbox)
    assert [e["propertyValue"] for e in receiver.events()] == ["Active"]
    assert receiver.events()[0]["subscriptionId"] == int(sub["id"])

    patched = http.patch(
        f"{base}/subscriptions/{sub['id']}", params=HAPIKEY, json={"active": False}
    )
    assert patched.json()["active"] is False
    assert http.get(f"{base}/subscriptions/999", params=HAPIKEY).status_code == 404
    assert http.delete(f"{base}/settings", params=HAPIKEY).status_code == 204
    assert sandbox.admin("GET", "webhooks")["status"]["active"] is False


def test_a_portal_configured_at_start_sends_without_admin_calls(receiver: Receiver) -> None:
    config = HubSpotSandboxConfig(
        **SMALL_PORTAL,
        webhooks={"target_url": receiver.url, "subscriptions": ["contact.creation"]},
    )
    with SandboxServer(create_app(config)) as server:
        box = Sandbox(server.base_url)
        box.admin("POST", "create", json={"object_type": "contacts", "count": 2})
        flush(box)
        box.http.close()
    assert [e["subscriptionType"] for e in receiver.events()] == ["contact.creation"] * 2
    assert receiver.requests[0].v3_valid()


def test_gunicorn_process_sends_from_its_forked_worker(receiver: Receiver) -> None:
    config = HubSpotSandboxConfig(
        contacts=50,
        companies=10,
        deals=10,
        webhooks={"target_url": receiver.url, "subscriptions": ["contact.propertyChange"]},
    )
    with start_sandbox_process(config, server="gunicorn") as proc:
        box = Sandbox(proc.base_url)
        box.mutate("contacts", 4, properties={"city": "Forked"})
        assert flush(box)["drained"] is True
        box.http.close()
    assert len(receiver.events()) == 4
    assert all(r.v3_valid() for r in receiver.requests)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "sandbox", "serve", "--server", "builtin"],
        [str(Path(sys.executable).parent / "platform"), "sandbox"],
    ],
    ids=["python -m sandbox serve", "platform sandbox"],
)
def test_command_line_starts_a_sandbox_with_a_webhook_target(
    receiver: Receiver, command: list[str]
) -> None:
    port = _free_port()
    args = [
        *command,
        *("--port", str(port), "--contacts", "20", "--companies", "5", "--deals", "5"),
        *("--webhook-url", receiver.url, "--webhook-secret", "cli-secret"),
        *("--webhook-subscription", "contact.propertyChange:city"),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the sandbox command exited"
            try:
                if httpx.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the sandbox command did not start"
                time.sleep(0.1)
        box = Sandbox(base_url)
        box.mutate("contacts", 2, properties={"city": "Cli", "jobtitle": "ignored"})
        assert flush(box)["drained"] is True
        box.http.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert [e["propertyName"] for e in receiver.events()] == ["city", "city"]
    assert receiver.requests[0].v3_valid("cli-secret")


def test_the_platform_receivers_verification_accepts_what_the_sandbox_signs(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    from webhook_receiver.verification import SignatureError, SignedRequest, verify_delivery

    receiver.verify = True  # refusals make the sandbox retry with a good signature
    configure(sandbox, receiver, subscriptions=["contact.creation"])
    for fault in ("rate_corrupt_signature", "rate_stale_timestamp"):
        sandbox.admin("POST", "webhooks/faults", json={fault: 1.0, "next_n": 1})
        sandbox.admin("POST", "create", json={"object_type": "contacts"})
        flush(sandbox)

    def check(received: Received) -> str:
        headers = {k.lower(): v for k, v in received.headers.items()}
        request = SignedRequest(received.method, (received.url,), headers, received.body)
        try:
            return verify_delivery("hubspot", request, SECRET, now_ms=int(time.time() * 1000))
        except SignatureError as exc:
            return exc.code

    outcomes = [check(r) for r in receiver.requests]
    assert outcomes == ["invalid_signature", "hubspot-v3", "stale_timestamp", "hubspot-v3"]
