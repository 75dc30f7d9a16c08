"""Issue 9 (receiver): deep nesting is a 400 counted in /metrics, only allow-listed headers are
stored, and each integration chooses which HubSpot signature versions it accepts."""

from __future__ import annotations

import json

import pytest

from core.clock import clock
from tests.unit.test_webhook_deliveries import metric
from tests.webhook_receiver_support import (
    HOST,
    SECRET,
    Delivery,
    build_receiver,
    github_delivery,
    hubspot_event,
    hubspot_v1,
    hubspot_v3,
    path,
)
from webhook_receiver.verification import hubspot


@pytest.fixture
def rx(settings):
    # The depth scan sends hundreds of deliveries: the rate limit is not under test here.
    receiver = build_receiver(
        settings, WEBHOOK_RATE_LIMIT_PER_SECOND=1_000_000, WEBHOOK_RATE_LIMIT_BURST=1_000_000
    )
    receiver.add("hubspot", "acme")
    receiver.add("hubspot", "legacy", webhook_signature_versions=["v1", "v2", "v3"])
    receiver.add("github", "gh")
    yield receiver
    clock.reset()


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def deep_body(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


# -- item 9: nesting ------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [966, 990, 5_000, 100_000])
def test_a_signed_batch_nested_deeply_is_a_400_malformed_json(rx, depth):
    # Two events, so the batch is re-encoded event by event (the 500 was in that re-dump).
    body = b'[{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 1, "x": '
    body += deep_body(depth) + b'}, {"eventId": 2, "subscriptionType": "contact.creation"}]'
    response = rx.send(hubspot_v3("acme", body))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert rx.rows() == []


def test_no_nesting_depth_near_the_recursion_limit_gives_a_500(rx):
    """The 500 appeared only where parsing still fit the stack and re-encoding did not, which
    depends on how deep the server's own stack is: scan the depths under several stacks."""

    def padded(frames: int, call):
        return call() if frames == 0 else padded(frames - 1, call)

    statuses = set()
    for frames in (0, 10, 20, 30, 60):
        for depth in range(900, 1_000):
            body = b'[{"eventId": 1, "subscriptionType": "contact.creation", "x": '
            body += deep_body(depth) + b'}, {"eventId": 2, "subscriptionType": "x.y"}]'
            statuses.add(padded(frames, lambda b=body: rx.send(hubspot_v3("acme", b))).status_code)
    assert statuses == {400}


def test_a_batch_nested_past_the_limit_is_refused_and_one_within_is_stored(rx):
    from core.events import MAX_JSON_DEPTH

    shallow = hubspot_event(1, extra=nested(MAX_JSON_DEPTH - 2))  # batch + event + this
    assert rx.send(hubspot_v3("acme", [shallow, hubspot_event(2)])).status_code == 202
    deep = hubspot_event(3, extra=nested(MAX_JSON_DEPTH - 1))
    response = rx.send(hubspot_v3("acme", [deep, hubspot_event(4)]))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert [r.delivery_id for r in rx.rows()] == ["1", "2"]


def test_dump_json_turns_a_recursion_error_into_malformed_json():
    from core.events import PayloadError, dump_json

    with pytest.raises(PayloadError) as refused:
        dump_json(nested(100_000))
    assert refused.value.code == "malformed_json"


def test_a_deep_single_event_batch_is_a_400_too(rx):
    response = rx.send(hubspot_v3("acme", b"[" + deep_body(3_000) + b"]"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_malformed_json_refusals_are_counted_in_metrics(rx):
    rx.send(hubspot_v3("acme", deep_body(5_000)))
    rx.send(hubspot_v3("acme", b"[{"))
    text = rx.client.get("/metrics").get_data(as_text=True)
    reason = {"provider": "hubspot", "reason": "malformed_json"}
    assert metric(text, "webhook_deliveries_rejected_total", **reason) == 2


# -- item 10: stored headers ----------------------------------------------------------------


CREDENTIAL_HEADERS = {
    "Authorization": "Bearer leaked",
    "Proxy-Authorization": "Basic bGVha2Vk",
    "Cookie": "session=leaked",
    "X-Api-Key": "leaked",
    "X-Auth-Token": "leaked",
    "X-Forwarded-Authorization": "Bearer leaked",
    "X-Amz-Security-Token": "leaked",
    "X-Goog-Iap-Jwt-Assertion": "leaked",
    "X-Vault-Token": "leaked",
    "X-Custom-Secret": "leaked",
}


def test_only_allow_listed_headers_are_stored(rx):
    delivery = hubspot_v3("acme", [hubspot_event(1)])
    delivery.headers.update(CREDENTIAL_HEADERS)
    delivery.headers["User-Agent"] = "HubSpot Connect 2.0"
    delivery.headers["X-HubSpot-Timeout-Millis"] = "5000"
    assert rx.send(delivery).status_code == 202

    stored = rx.rows()[0].headers
    assert "leaked" not in json.dumps(stored)
    assert set(stored) == {
        "content-type",
        "content-length",
        "user-agent",
        "x-hubspot-signature-v3",
        "x-hubspot-request-timestamp",
        "x-hubspot-timeout-millis",
    }


def test_the_headers_a_parser_reads_are_stored(rx):
    delivery = github_delivery("gh", "push", {"ref": "refs/heads/main"}, delivery_id="d-1")
    delivery.headers["X-Auth-Token"] = "leaked"
    assert rx.send(delivery).status_code == 202
    stored = rx.rows()[0].headers
    assert stored["x-github-event"] == "push"
    assert stored["x-github-delivery"] == "d-1"
    assert "x-auth-token" not in stored


# -- item 12: signature versions per integration --------------------------------------------


def hubspot_v2(integration_id: str, events: list[dict], secret: str = SECRET) -> Delivery:
    body = json.dumps(events).encode()
    url = f"http://{HOST}{path('hubspot', integration_id)}"
    return Delivery(
        path("hubspot", integration_id),
        body,
        {
            "X-HubSpot-Signature": hubspot.sign_v2(secret, "POST", url, body),
            "X-HubSpot-Signature-Version": "v2",
        },
    )


@pytest.mark.parametrize("sign", [hubspot_v1, hubspot_v2])
def test_by_default_a_hubspot_integration_refuses_v1_and_v2(rx, sign):
    response = rx.send(sign("acme", [hubspot_event(1)]))
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "signature_version_refused"
    assert "v3" in error["message"] and "webhook_signature_versions" in error["message"]
    assert rx.rows() == []


def test_a_replayed_v1_delivery_is_refused_even_after_the_dedupe_horizon(rx):
    """v1 has no timestamp: a captured delivery verifies forever; only the policy stops it."""
    captured = hubspot_v1("acme", [hubspot_event(9)])
    clock.freeze(clock.time() + 30 * 86_400)
    assert rx.send(captured).status_code == 401
    assert rx.rows() == []


def test_v3_is_accepted_by_default(rx):
    assert rx.send(hubspot_v3("acme", [hubspot_event(1)])).status_code == 202


@pytest.mark.parametrize("sign", [hubspot_v1, hubspot_v2, hubspot_v3])
def test_an_integration_that_opts_in_accepts_the_versions_it_names(rx, sign):
    assert rx.send(sign("legacy", [hubspot_event(1)])).status_code == 202


def test_an_integration_may_accept_v1_only(rx):
    rx.add("hubspot", "v1only", webhook_signature_versions=["v1"])
    assert rx.send(hubspot_v1("v1only", [hubspot_event(1)])).status_code == 202
    refused = rx.send(hubspot_v3("v1only", [hubspot_event(2)]))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "signature_version_refused"


def test_a_bad_signature_is_still_invalid_signature_not_a_version_refusal(rx):
    response = rx.send(hubspot_v1("acme", [hubspot_event(1)], secret="forged"))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"


def test_a_deep_body_is_refused_before_the_parser_recurses(monkeypatch):
    """A body nested near the recursion limit never reaches the recursive parser: at that
    depth whatever the garbage collector finalizes runs out of stack (seen in the suite as an
    'exception ignored' in an unrelated finalizer). Brackets inside strings do not count."""
    import core.events as events

    parsed: list[bytes] = []
    real_loads = events.json.loads

    def spy(text, **kwargs):
        parsed.append(text)
        return real_loads(text, **kwargs)

    monkeypatch.setattr(events.json, "loads", spy)
    for body in (deep_body(990), b"[" * 990 + b"]" * 990, b"[" * 70 + b"]" * 69):
        with pytest.raises(events.PayloadError) as refused:
            events.load_json(body)
        assert refused.value.code == "malformed_json"
    assert parsed == []
    # Brackets in strings (escaped quotes included) are text, not nesting: parsed and kept.
    text = '["' + "[[[{{{" * 30 + '\\"]]]", ' + ", ".join(['"]]]}}}"'] * 40) + "]"
    assert events.load_json(text.encode())[0].startswith("[[[{{{")
    assert len(parsed) == 1
