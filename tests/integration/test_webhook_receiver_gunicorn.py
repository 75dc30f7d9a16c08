"""The receiver served for real: `platform webhooks serve --workers 2` (gunicorn), concurrent
signed deliveries over HTTP, every 2xx in the inbox exactly once, metrics merged across workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.clock import clock
from core.settings import Settings
from inbox import Inbox
from pipelines.registry import IntegrationRegistry
from tests.webhook_receiver_support import hubspot_event
from webhook_receiver.verification import hubspot

SECRET = "gunicorn-test-secret"
INTEGRATION = "served"
REPO = Path(__file__).resolve().parents[2]
BODY_READ_TIMEOUT_S = 2

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    base_url: str
    host: str
    settings: Settings
    process: subprocess.Popen
    log: Path

    def delivery(self, event_ids: list[int]) -> tuple[str, bytes, dict[str, str]]:
        path = f"/api/v1/webhooks/hubspot/{INTEGRATION}"
        body = json.dumps([hubspot_event(i) for i in event_ids]).encode()
        stamp = str(clock.now_ms())
        signature = hubspot.sign_v3(SECRET, "POST", f"http://{self.host}{path}", body, stamp)
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": stamp,
        }
        return path, body, headers

    def inbox_delivery_ids(self) -> list[str]:
        inbox = Inbox.from_settings(self.settings)
        try:
            return [e.delivery_id for e in inbox.fetch_ready(limit=1_000_000)]
        finally:
            inbox.close()


@pytest.fixture
def served(settings) -> Iterator[Served]:
    registry = IntegrationRegistry.from_settings(settings)
    registry.create(
        organization_id="org",
        user_id="user",
        type="hubspot",
        name="served",
        config={"webhook_secret": SECRET},
        integration_id=INTEGRATION,
        actor="test",
    )
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
        "WEBHOOK_RATE_LIMIT_PER_SECOND": "100000",
        "WEBHOOK_RATE_LIMIT_BURST": "100000",
        "WEBHOOK_MAX_BODY_BYTES": "65536",
        "WEBHOOK_BODY_READ_TIMEOUT_S": str(BODY_READ_TIMEOUT_S),
        "PYTHONPATH": str(REPO),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = settings.data_dir / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "webhooks", "serve", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"receiver did not start:\n{log.read_text()}")
        time.sleep(0.1)
    try:
        yield Served(base_url, f"127.0.0.1:{port}", settings, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(master: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                out.append(int(entry))
    return out


def test_two_workers_store_every_acknowledged_delivery_exactly_once(served):
    assert len(worker_pids(served.process.pid)) == 2
    ids = list(range(1, 501))
    # 50 deliveries are sent twice, as a retrying provider would
    plan = ids + ids[:50]
    statuses: dict[int, list[int]] = {}

    def send(client: httpx.Client, event_id: int) -> None:
        path, body, headers = served.delivery([event_id])
        response = client.post(served.base_url + path, content=body, headers=headers)
        statuses.setdefault(event_id, []).append(response.status_code)

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: send(client, i), plan))

    acknowledged = {i for i, codes in statuses.items() if any(200 <= c < 300 for c in codes)}
    stored = served.inbox_delivery_ids()
    assert acknowledged == set(ids), {i: c for i, c in statuses.items() if i not in acknowledged}
    assert sorted(stored, key=int) == [str(i) for i in ids]  # each exactly once


def test_metrics_are_merged_across_the_workers(served):
    with httpx.Client(timeout=30) as client:
        for i in range(40):
            path, body, headers = served.delivery([10_000 + i])
            assert (
                client.post(served.base_url + path, content=body, headers=headers).status_code
                == 202
            )
        # whichever worker answers the scrape reports the sum of both
        totals = set()
        for _ in range(6):
            text = client.get(f"{served.base_url}/metrics").text
            line = next(
                ln for ln in text.splitlines()
                if ln.startswith('webhook_events_accepted_total{provider="hubspot"}')
            )  # fmt: skip
            totals.add(float(line.rsplit(" ", 1)[1]))
    assert totals == {40.0}
    prometheus_files = list((served.settings.data_dir / "prometheus").glob("*.db"))
    assert prometheus_files


def test_a_chunked_body_over_the_limit_is_refused_over_real_http(served):
    path, _, headers = served.delivery([1])
    headers.pop("Content-Length", None)

    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    response = httpx.post(served.base_url + path, content=chunks(), headers=headers, timeout=30)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert served.inbox_delivery_ids() == []


def slow_connection(served: Served, event_id: int) -> socket.socket:
    """A delivery whose headers arrive and whose body then stalls after a few bytes."""
    path, body, headers = served.delivery([event_id])
    sock = socket.create_connection(("127.0.0.1", int(served.host.rsplit(":", 1)[1])))
    head = f"POST {path} HTTP/1.1\r\nHost: {served.host}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body[:5])
    return sock


def test_slow_bodies_hold_neither_health_nor_deliveries(served):
    """Issue 9 item 8: with sync workers two slow bodies took a two-worker receiver down."""
    slow = [slow_connection(served, 90_000 + i) for i in range(8)]
    try:
        time.sleep(0.3)  # every slow body is being read by now
        with httpx.Client(timeout=BODY_READ_TIMEOUT_S * 0.75) as client:
            assert client.get(f"{served.base_url}/health").status_code == 200
            path, body, headers = served.delivery([1])
            assert (
                client.post(served.base_url + path, content=body, headers=headers).status_code
                == 202
            )
        # Past the read deadline each slow client gets a 408 and nothing is stored for it.
        for sock in slow:
            sock.settimeout(BODY_READ_TIMEOUT_S * 5)
            answer = ""
            while "request_timeout" not in answer:
                received = sock.recv(65536)
                if not received:
                    break
                answer += received.decode(errors="replace")
            assert answer.startswith("HTTP/1.1 408"), answer[:200]
            assert "request_timeout" in answer
    finally:
        for sock in slow:
            sock.close()
    assert served.inbox_delivery_ids() == ["1"]
