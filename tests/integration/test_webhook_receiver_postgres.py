"""The receiver on the scale-out inbox: Postgres (INBOX_DATABASE_URL=postgresql://...)."""

from __future__ import annotations

import socket

import pytest

from tests.webhook_receiver_support import (
    build_receiver,
    github_delivery,
    hubspot_event,
    hubspot_v3,
)

pytestmark = pytest.mark.postgres


def test_deliveries_and_duplicates_on_a_postgres_inbox(settings, postgres_url):
    rx = build_receiver(settings, INBOX_DATABASE_URL=postgres_url)
    rx.add("hubspot", "acme")
    rx.add("github", "gh")

    first = rx.send(hubspot_v3("acme", [hubspot_event(1), hubspot_event(2)]))
    again = rx.send(hubspot_v3("acme", [hubspot_event(2), hubspot_event(3)]))
    push = rx.send(github_delivery("gh", "push", {"after": "abc"}))

    assert (first.status_code, first.get_json()) == (202, {"accepted": 2, "duplicates": 0})
    assert (again.status_code, again.get_json()) == (202, {"accepted": 1, "duplicates": 1})
    assert push.status_code == 202
    rows = rx.rows()
    assert [(r.provider, r.delivery_id) for r in rows] == [
        ("hubspot", "1"),
        ("hubspot", "2"),
        ("hubspot", "3"),
        ("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]
    health = rx.client.get("/health").get_json()
    assert health["inbox"]["backend"] == "postgresql"
    assert health["inbox"]["counts"]["pending"] == 4


def test_an_unreachable_postgres_inbox_answers_503_and_health_says_so(settings):
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        rx = build_receiver(settings, INBOX_DATABASE_URL=f"postgresql://x@127.0.0.1:{port}/inbox")
        rx.add("hubspot", "acme")

        response = rx.send(hubspot_v3("acme", [hubspot_event(1)]))
        health = rx.client.get("/health")

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "inbox_unavailable"
    assert health.status_code == 503
