"""What bench/webhook_fuzz.py found, kept as tests: a ping-shaped body sent as JSON is not the
WooCommerce ping, escaped lone surrogates in a batch are stored (escaped) instead of failing
with a 500, and identifiers no inbox can store are a 400 instead of a 5xx."""

from __future__ import annotations

import json

import pytest

from tests.webhook_receiver_support import (
    SECRET,
    build_receiver,
    hubspot_event,
    hubspot_v3,
    path,
    salesforce_delivery,
)
from webhook_receiver.verification import salesforce


@pytest.fixture
def rx(settings):
    receiver = build_receiver(settings)
    receiver.add("hubspot", "acme")
    receiver.add("wordpress", "wp")
    receiver.add("salesforce", "sf")
    return receiver


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=utf-8"])
def test_a_ping_body_of_another_content_type_is_an_unsigned_delivery(rx, content_type):
    response = rx.client.post(
        path("wordpress", "wp"), data=b"webhook_id=42", headers={"Content-Type": content_type}
    )

    assert response.status_code in (401, 415)
    assert rx.rows() == []


@pytest.mark.parametrize("headers", [{"Content-Type": "application/x-www-form-urlencoded"}, {}])
def test_the_ping_itself_is_form_encoded_or_untyped(rx, headers):
    response = rx.client.post(path("wordpress", "wp"), data=b"webhook_id=42", headers=headers)

    assert response.status_code == 200
    assert [r.event_type for r in rx.rows()] == ["ping"]


def test_escaped_lone_surrogates_in_a_batch_are_stored_as_the_sender_escaped_them(rx):
    events = [hubspot_event(1, propertyValue="\ud800x\u00e9"), hubspot_event(2)]

    response = rx.send(hubspot_v3("acme", json.dumps(events).encode()))

    assert response.status_code == 202, response.get_data(as_text=True)
    first, second = rx.rows()
    assert json.loads(first.payload)["propertyValue"] == "\ud800x\u00e9"
    assert b"\\ud800" in first.payload
    assert json.loads(second.payload) == events[1]


def test_lone_surrogates_in_a_salesforce_array_are_stored_too(rx):
    items = [{"type": "order.created", "data": {"id": 1, "note": "\udfff"}}, {"type": "x.y"}]
    body = json.dumps(items).encode()
    delivery = salesforce_delivery("sf", None)
    delivery.body = body
    delivery.headers["X-Salesforce-Signature"] = salesforce.sign(SECRET, body)

    response = rx.send(delivery)

    assert response.status_code == 202, response.get_data(as_text=True)
    assert json.loads(rx.rows()[0].payload)["data"]["note"] == "\udfff"


@pytest.mark.parametrize(
    "event",
    [
        hubspot_event(1, subscriptionType="contact.\ud800"),
        hubspot_event(1, subscriptionType="contact.a\u0000b"),
        hubspot_event(1, objectId="\udc00"),
        {**hubspot_event(1), "eventId": "7\u0000"},
    ],
    ids=["surrogate type", "NUL type", "surrogate object id", "NUL event id"],
)
@pytest.mark.parametrize("batch_size", [1, 2])
def test_identifiers_no_inbox_can_store_are_a_400_and_nothing_is_stored(rx, event, batch_size):
    events = [event] + [hubspot_event(99)] * (batch_size - 1)

    response = rx.send(hubspot_v3("acme", json.dumps(events).encode()))

    assert response.status_code == 400, response.get_data(as_text=True)
    assert error_code(response) == "invalid_payload"
    assert "NUL character or an unpaired surrogate" in response.get_json()["error"]["message"]
    assert rx.rows() == []


@pytest.mark.postgres
def test_a_nul_in_an_identifier_is_a_400_on_the_postgres_inbox_too(settings, postgres_url):
    """Postgres text cannot hold NUL: without the check the commit fails and the provider
    gets a 503 and retries the same delivery until it gives up."""
    receiver = build_receiver(settings, INBOX_DATABASE_URL=postgres_url)
    receiver.add("hubspot", "acme")
    events = [hubspot_event(1, subscriptionType="contact.a\u0000b"), hubspot_event(2)]

    response = receiver.send(hubspot_v3("acme", json.dumps(events).encode()))

    assert response.status_code == 400, response.get_data(as_text=True)
    assert receiver.inbox.counts()["pending"] == 0
    receiver.inbox.close()
