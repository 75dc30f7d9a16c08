"""The delivery fast path (issue 9 item 7): `POST /api/v1/webhooks/<provider>/<id>` goes to the
receiver without Flask's per-request machinery, answers exactly as the Flask route does, and
leaves every other request to Flask."""

from __future__ import annotations

import pytest
from flask import request_started

from core.clock import clock
from tests.webhook_receiver_support import build_receiver, hubspot_event, hubspot_v3, path
from webhook_receiver.blueprints import webhooks


@pytest.fixture
def rx(settings):
    receiver = build_receiver(settings)
    receiver.add("hubspot", "acme")
    yield receiver
    clock.reset()


@pytest.fixture
def flask_requests(rx):
    """How many requests went through Flask's request handling."""
    seen: list[str] = []

    def started(sender, **extra):
        from flask import request

        seen.append(request.path)

    request_started.connect(started, rx.app)
    yield seen
    request_started.disconnect(started, rx.app)


def answer(response) -> tuple:
    return response.status_code, response.get_json(), sorted(response.headers.items())


def test_deliveries_skip_flask_and_everything_else_goes_through_it(rx, flask_requests):
    ok = rx.send(hubspot_v3("acme", [hubspot_event(1)]))
    assert answer(ok) == (
        202,
        {"accepted": 1, "duplicates": 0},
        [("Content-Length", "29"), ("Content-Type", "application/json")],
    )
    refused = rx.client.post(path("hubspot", "acme"), data=b"[]", content_type="application/json")
    assert refused.status_code == 401
    assert flask_requests == []
    assert rx.client.get("/health").status_code == 200
    assert rx.client.get(path("hubspot", "acme")).status_code == 405
    assert rx.client.post(path("hubspot", "acme") + "/").status_code == 404
    assert rx.client.post("/api/v1/webhooks/hubspot").status_code == 404
    assert len(flask_requests) == 4


@pytest.mark.parametrize(
    "target",
    [
        path("hubspot", "acme"),
        path("hubspot", "nobody"),
        path("nosuch", "acme"),
        path("wordpress", "acme"),  # another provider's endpoint: 404 with the same shape
        path("hubspot", "acme%C3%A9"),  # UTF-8 in the path, decoded as the route decodes it
        path("hubspot", "acme%FF"),  # not UTF-8
    ],
)
def test_the_fast_path_answers_as_the_flask_route(rx, target):
    def post(client, event_id: int):
        delivery = hubspot_v3("acme", [hubspot_event(event_id)])
        headers = {"Content-Type": delivery.content_type, **delivery.headers}
        return client.post(target, data=delivery.body, headers=headers)

    fast = post(rx.client, 5)
    rx.app.wsgi_app, wrapped = rx.app.wsgi_app._app, rx.app.wsgi_app  # the Flask route alone
    try:
        slow = post(rx.app.test_client(), 6)
    finally:
        rx.app.wsgi_app = wrapped
    assert answer(fast) == answer(slow)


def test_an_unexpected_error_is_answered_as_the_app_answers_it(rx, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(rx.app.wsgi_app._receiver, "receive", broken)
    response = rx.send(hubspot_v3("acme", [hubspot_event(1)]))
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "an unexpected error occurred"}
    }
    assert "unhandled error in the webhook receiver" in caplog.text
    assert isinstance(rx.app.wsgi_app, webhooks.DeliveryRoute)
