"""The shared webhook sender driven by a made-up provider (one event per request, an object body,
an HMAC hex signature): the generic outbox batches by the provider's settings, signs through its
`Signer`, shapes through its `EventShape`, retries, logs and injects faults without knowing who
the provider is."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from core.clock import Clock
from sandbox.common.webhooks.faults import WebhookFaultConfig
from sandbox.common.webhooks.outbox import WebhookOutbox
from sandbox.common.webhooks.settings import RetryPolicy, SenderSettings

SECRET = "toy-secret"


class ToySigner:
    signature_headers = ("X-Toy-Signature",)

    def sign(self, body: bytes, url: str, secret: str, timestamp_ms: int) -> dict[str, str]:
        message = str(timestamp_ms).encode() + b"." + body
        digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        return {"X-Toy-Signature": digest, "X-Toy-Timestamp": str(timestamp_ms)}


class ToyShape:
    content_type = "application/json"

    def body(self, events: Sequence[dict[str, Any]], attempt_number: int) -> bytes:
        assert len(events) == 1  # this provider sends one event per request
        return orjson.dumps({**events[0], "attempt": attempt_number})

    def event_id(self, event: dict[str, Any]) -> Any:
        return event["id"]

    def event_type(self, event: dict[str, Any]) -> str:
        return str(event["topic"])

    def headers(
        self, settings: Any, events: Sequence[dict[str, Any]], attempt_number: int
    ) -> Mapping[str, str]:
        return {"X-Toy-Topic": str(events[0]["topic"])}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        with server.lock:
            server.received.append((dict(self.headers), body))
            status = server.statuses.pop(0) if server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture
def receiver() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.statuses, server.lock = [], [], threading.Lock()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _verifies(headers: dict[str, str], body: bytes) -> bool:
    expected = ToySigner().sign(body, "", SECRET, int(headers["X-Toy-Timestamp"]))
    return hmac.compare_digest(expected["X-Toy-Signature"], headers["X-Toy-Signature"])


def _outbox(receiver: Any) -> WebhookOutbox:
    outbox = WebhookOutbox(Clock(), ToyShape(), name="toy")
    settings = SenderSettings(
        target_url=f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        max_batch_size=1,
        flush_interval_ms=0,
        retry=RetryPolicy(max_retries=2, initial_delay_ms=1, max_delay_ms=5),
    )
    outbox.configure(settings, ToySigner(), SECRET)
    return outbox


def test_a_provider_with_one_event_per_request_gets_signed_shaped_deliveries(receiver: Any) -> None:
    outbox = _outbox(receiver)
    try:
        outbox.send([{"id": n, "topic": "item.updated"} for n in (1, 2, 3)])
        assert outbox.dispatcher.flush(10)["drained"]
        assert len(receiver.received) == 3
        for headers, body in receiver.received:
            assert _verifies(headers, body)
            assert headers["X-Toy-Topic"] == "item.updated"
            assert orjson.loads(body)["attempt"] == 0
        log = outbox.dispatcher.deliveries(include_body=True)
        assert [d["event_ids"] for d in log] == [[1], [2], [3]]
        assert {d["status"] for d in log} == {"delivered"}
        assert log[0]["subscription_types"] == ["item.updated"]
        assert set(log[0]["last_headers"]) == {"x-toy-topic", "x-toy-signature", "x-toy-timestamp"}
        assert orjson.loads(log[0]["last_body"]) == {"id": 1, "topic": "item.updated", "attempt": 0}
    finally:
        outbox.dispatcher.close()


def test_retries_follow_the_providers_policy_and_faults_touch_only_signatures(
    receiver: Any,
) -> None:
    outbox = _outbox(receiver)
    try:
        receiver.statuses = [500]
        outbox.faults.configure(WebhookFaultConfig(rate_corrupt_signature=1.0, next_n=1))
        outbox.send([{"id": 7, "topic": "item.created"}])
        assert outbox.dispatcher.flush(10)["drained"]
        (first_headers, first), (second_headers, second) = receiver.received
        assert not _verifies(first_headers, first)  # corrupted, and refused with a 500
        assert _verifies(second_headers, second)  # the retry is signed correctly
        assert orjson.loads(second)["attempt"] == 1
        (delivery,) = outbox.dispatcher.deliveries()
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
        assert delivery["attempts"][0]["fault"] == "corrupt_signature"
    finally:
        outbox.dispatcher.close()


def test_nothing_is_queued_without_a_target() -> None:
    outbox = WebhookOutbox(Clock(), ToyShape(), name="toy")
    outbox.send([{"id": 1, "topic": "item.created"}])
    assert outbox.dispatcher.status()["pending_events"] == 0
