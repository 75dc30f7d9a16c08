"""Every refusal of the receiver answers the right status with a JSON error and stores nothing."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from core.clock import clock
from tests.webhook_receiver_support import (
    SECRET,
    Delivery,
    build_receiver,
    github_delivery,
    hubspot_event,
    hubspot_v3,
    path,
    salesforce_delivery,
    wordpress_delivery,
)
from webhook_receiver.verification import hubspot


@pytest.fixture
def rx(settings):
    receiver = build_receiver(settings, WEBHOOK_MAX_BODY_BYTES=4096)
    receiver.add("hubspot", "acme")
    receiver.add("github", "gh")
    receiver.add("wordpress", "wp")
    receiver.add("salesforce", "sf")
    yield receiver
    clock.reset()


def refused(rx, response, status: int, code: str) -> None:
    """The answer is the JSON error, and the inbox holds no event at all."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert sum(rx.inbox.counts().values()) == 0


def test_unknown_provider_is_404(rx):
    refused(rx, rx.send(Delivery(path("stripe", "acme"), b"{}", {})), 404, "unknown_provider")


def test_unknown_integration_is_404(rx):
    refused(rx, rx.send(hubspot_v3("nobody", [hubspot_event(1)])), 404, "unknown_integration")


def test_an_integration_of_another_provider_is_404(rx):
    delivery = github_delivery("acme", "push", {"after": "abc"})
    refused(rx, rx.send(delivery), 404, "unknown_integration")


def test_a_disabled_integration_is_404(rx):
    rx.registry.set_status("acme", "disabled")
    refused(rx, rx.send(hubspot_v3("acme", [hubspot_event(1)])), 404, "unknown_integration")


def test_missing_signature_is_401(rx):
    delivery = hubspot_v3("acme", [hubspot_event(1)])
    delivery.headers.clear()
    refused(rx, rx.send(delivery), 401, "missing_signature")


def test_wrong_signature_is_401(rx):
    refused(
        rx,
        rx.send(hubspot_v3("acme", [hubspot_event(1)], secret="wrong")),
        401,
        "invalid_signature",
    )


def test_a_body_changed_after_signing_is_401(rx):
    delivery = github_delivery("gh", "push", {"after": "abc"})
    delivery.body = delivery.body.replace(b"abc", b"abd")
    refused(rx, rx.send(delivery), 401, "invalid_signature")


def test_a_signature_for_another_url_is_401(rx):
    delivery = hubspot_v3("acme", [hubspot_event(1)])
    delivery.path += "?extra=1"
    refused(rx, rx.send(delivery), 401, "invalid_signature")


def test_a_stale_timestamp_is_401(rx):
    old = clock.now_ms() - 301_000
    refused(
        rx,
        rx.send(hubspot_v3("acme", [hubspot_event(1)], timestamp_ms=old)),
        401,
        "stale_timestamp",
    )


def test_no_secret_anywhere_is_401(rx):
    rx.add("github", "nosecret", secret=None)
    refused(rx, rx.send(github_delivery("nosecret", "push", {})), 401, "missing_secret")


def test_a_declared_body_over_the_limit_is_413(rx):
    events = [hubspot_event(i, propertyValue="x" * 200) for i in range(30)]
    refused(rx, rx.send(hubspot_v3("acme", events)), 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_413_without_content_length(rx):
    body = json.dumps([hubspot_event(1, propertyValue="x" * 5000)]).encode()
    delivery = hubspot_v3("acme", body)
    environ = EnvironBuilder(
        path=delivery.path,
        method="POST",
        headers={"Content-Type": "application/json", **delivery.headers},
    ).get_environ()
    # what a server hands over for `Transfer-Encoding: chunked`: no length, a terminated stream
    environ.pop("CONTENT_LENGTH", None)
    environ.update(
        {
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
        }
    )
    app_iter, status, headers = run_wsgi_app(rx.app, environ)
    payload = b"".join(app_iter)

    assert status.startswith("413")
    assert json.loads(payload)["error"]["code"] == "payload_too_large"
    assert sum(rx.inbox.counts().values()) == 0


def test_malformed_json_is_400(rx):
    refused(rx, rx.send(hubspot_v3("acme", b'[{"eventId": 1,')), 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"eventId": 1, "subscriptionType": "contact.creation"}',
        b"[]",
        b"[1, 2]",
        b'[{"subscriptionType": "contact.creation"}]',
        b'[{"eventId": true, "subscriptionType": "contact.creation"}]',
        b'[{"eventId": 1}]',
    ],
    ids=["object", "empty", "scalars", "no-event-id", "bool-event-id", "no-type"],
)
def test_a_hubspot_body_that_is_not_an_array_of_events_is_400(rx, body):
    refused(rx, rx.send(hubspot_v3("acme", body)), 400, "invalid_payload")


def test_nan_is_not_json(rx):
    refused(rx, rx.send(github_delivery("gh", "push", b'{"after": NaN}')), 400, "malformed_json")


def test_github_without_event_or_delivery_header_is_400(rx):
    for header in ("X-GitHub-Event", "X-GitHub-Delivery"):
        delivery = github_delivery("gh", "push", {"after": "abc"})
        del delivery.headers[header]
        refused(rx, rx.send(delivery), 400, "missing_header")


def test_a_github_payload_that_is_not_an_object_is_400(rx):
    refused(rx, rx.send(github_delivery("gh", "push", b"[1]")), 400, "invalid_payload")


def test_salesforce_items_must_name_their_event(rx):
    refused(rx, rx.send(salesforce_delivery("sf", {"Name": "x"})), 400, "invalid_payload")
    refused(rx, rx.send(salesforce_delivery("sf", [])), 400, "invalid_payload")


def test_wrong_content_type_is_415(rx):
    delivery = hubspot_v3("acme", [hubspot_event(1)])
    delivery.content_type = "text/plain"
    refused(rx, rx.send(delivery), 415, "unsupported_media_type")


def test_a_signed_wordpress_form_body_is_415(rx):
    delivery = wordpress_delivery("wp", {"type": "post.updated"})
    delivery.content_type = "application/x-www-form-urlencoded"
    refused(rx, rx.send(delivery), 415, "unsupported_media_type")


def test_over_the_integration_rate_is_429_with_retry_after(settings):
    rx = build_receiver(settings, WEBHOOK_RATE_LIMIT_PER_SECOND=0.5, WEBHOOK_RATE_LIMIT_BURST=2)
    rx.add("hubspot", "acme")
    rx.add("hubspot", "other")

    statuses = [rx.send(hubspot_v3("acme", [hubspot_event(i)])).status_code for i in range(2)]
    third = rx.send(hubspot_v3("acme", [hubspot_event(3)]))

    assert statuses == [202, 202]
    assert third.status_code == 429
    assert third.get_json()["error"]["code"] == "rate_limited"
    assert int(third.headers["Retry-After"]) >= 1
    assert [e.delivery_id for e in rx.rows()] == ["0", "1"]
    # the bucket is per integration; forged deliveries do not spend it
    assert rx.send(hubspot_v3("other", [hubspot_event(9)])).status_code == 202
    assert rx.send(hubspot_v3("other", [hubspot_event(8)], secret="forged")).status_code == 401
    assert rx.send(hubspot_v3("other", [hubspot_event(10)])).status_code == 202


def test_an_inbox_that_cannot_commit_is_503_and_stores_nothing(settings, tmp_path):
    locked = tmp_path / "locked.sqlite"
    rx = build_receiver(settings, INBOX_DATABASE_URL=f"sqlite:///{locked}?busy_timeout_ms=50")
    rx.add("hubspot", "acme")
    blocker = sqlite3.connect(locked, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = rx.send(hubspot_v3("acme", [hubspot_event(1)]))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    refused(rx, response, 503, "inbox_unavailable")
    assert response.headers["Retry-After"]
    assert rx.rows() == []
    assert rx.send(hubspot_v3("acme", [hubspot_event(1)])).status_code == 202


def test_other_methods_and_paths_are_json_errors(rx):
    refused(rx, rx.client.get(path("hubspot", "acme")), 405, "method_not_allowed")
    refused(rx, rx.client.get("/nowhere"), 404, "not_found")


def test_v2_signed_for_the_public_url_is_accepted_behind_a_proxy(settings):
    rx = build_receiver(settings, WEBHOOK_BASE_URL="https://hooks.example.com")
    rx.add("hubspot", "acme", webhook_signature_versions=["v2"])  # v3 only by default
    body = json.dumps([hubspot_event(1)]).encode()
    public = "https://hooks.example.com" + path("hubspot", "acme")
    headers = {
        "X-HubSpot-Signature": hubspot.sign_v2(SECRET, "POST", public, body),
        "X-HubSpot-Signature-Version": "v2",
    }
    assert rx.send(Delivery(path("hubspot", "acme"), body, headers)).status_code == 202
