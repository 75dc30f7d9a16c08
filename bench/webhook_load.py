"""Load generation for the webhook benchmarks: signed HubSpot v3 deliveries, a wrk run that
replays them, and a threaded Python client that remembers which deliveries got a 2xx.

The signer here is written from the HubSpot v3 formula on purpose (not imported from the
receiver), so the benchmark is also an independent check of the receiver's verification.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("webhook_wrk.lua")


@dataclass(frozen=True)
class Delivery:
    """One signed POST: the event id doubles as the delivery id the inbox dedups on."""

    event_id: int
    path: str
    body: bytes
    signature: str
    timestamp: str

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": self.signature,
            "X-HubSpot-Request-Timestamp": self.timestamp,
            "X-HubSpot-Signature-Version": "v3",
        }


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def hubspot_deliveries(
    count: int, *, secret: str, host: str, integration_id: str, first_event_id: int = 1
) -> list[Delivery]:
    """`count` single-event HubSpot batches (contact.propertyChange), each signed for `host`."""
    path = f"/api/v1/webhooks/hubspot/{integration_id}"
    uri = f"http://{host}{path}"
    timestamp = str(int(time.time() * 1000))
    out = []
    for i in range(first_event_id, first_event_id + count):
        event = {
            "eventId": i,
            "subscriptionId": 4242,
            "portalId": 62515,
            "appId": 1160452,
            "occurredAt": int(timestamp) - 1000,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 100000 + i % 5000,
            "propertyName": "lifecyclestage",
            "propertyValue": "customer",
            "changeSource": "CRM_UI",
            "sourceId": "userId:1",
        }
        body = json.dumps([event], separators=(",", ":")).encode()
        out.append(
            Delivery(i, path, body, sign_v3(secret, "POST", uri, body, timestamp), timestamp)
        )
    return out


def gunicorn_command(
    app: str, port: int, workers: int, log_level: str = "warning", extra: Sequence[str] = ()
) -> list[str]:
    """Every benchmark serves its app the same way: the receiver's own gunicorn configuration
    (`extra` flags override it, e.g. `--worker-class sync` to measure the old shape)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:webhook_receiver.gunicorn_config",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        log_level,
        *extra,
        app,
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# -- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """One wrk run. `ok` counts 2xx answers (the only throughput), `sent - answered` requests
    were in flight when wrk stopped, `socket_errors` sums connect/read/write/timeout errors."""

    requests: int
    seconds: float
    non_2xx: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    ok: int = 0
    sent: int = 0
    answered: int = 0
    socket_errors: int = 0

    @property
    def per_second(self) -> float:
        """2xx answers per second: a refusal or an error is not throughput."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    @property
    def in_flight(self) -> int:
        return max(0, self.sent - self.answered)


def combine(results: Sequence[WrkResult]) -> WrkResult:
    """Several wrk runs against one server as one: counts and seconds add up, and each latency
    percentile is the worst run's. That is an upper bound of the combined percentile: no run has
    more than 1% of its answers above its own p99, so no more than 1% of all are above the worst.
    """
    return WrkResult(
        sum(r.requests for r in results),
        sum(r.seconds for r in results),
        sum(r.non_2xx for r in results),
        {
            key: max(r.latency_ms.get(key, 0.0) for r in results)
            for key in {k for r in results for k in r.latency_ms}
        },
        ok=sum(r.ok for r in results),
        sent=sum(r.sent for r in results),
        answered=sum(r.answered for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    deliveries: list[Delivery],
    port: int,
    workdir: Path,
    *,
    seconds: int,
    threads: int = 2,
    connections: int = 32,
) -> WrkResult:
    """Replay deliveries in order through wrk for `seconds` with `connections` connections."""
    workdir.mkdir(parents=True, exist_ok=True)
    for t in range(threads):
        with open(workdir / f"thread-{t}.txt", "w") as fh:
            for d in deliveries[t::threads]:
                fh.write(f"{d.path}\t{d.signature}\t{d.timestamp}\t{d.body.decode()}\n")
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}",
        "--",
        str(workdir),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> WrkResult:
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if not m:
        raise ValueError(f"unexpected wrk output:\n{output}")
    seconds = float(m.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    latency = {f"p{p}": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)}
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    counts = re.search(r"BENCH sent=(\d+) answered=(\d+) ok2xx=(\d+)", output)
    if counts is None:
        raise ValueError(f"wrk output lacks the script's counts (old webhook_wrk.lua?):\n{output}")
    return WrkResult(
        int(m.group(1)),
        seconds,
        int(non_2xx.group(1)) if non_2xx else 0,
        latency,
        ok=int(counts.group(3)),
        sent=int(counts.group(1)),
        answered=int(counts.group(2)),
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


# -- Python client (records which deliveries were acknowledged) ------------------------------


@dataclass
class ClientLog:
    acknowledged: set[int] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)  # time.monotonic() of each 2xx
    refused: dict[int, int] = field(default_factory=dict)
    connection_errors: int = 0
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(port: int, d: Delivery, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", d.path, body=d.body, headers=d.headers())
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def deliver_all(
    deliveries: list[Delivery],
    port_of: callable,
    *,
    concurrency: int = 32,
    timeout: float = 5.0,
    give_up_after: float = 120.0,
) -> ClientLog:
    """Deliver each event until it gets a 2xx, like a provider that retries (HubSpot does).

    `port_of()` is asked before every attempt, so a restarted server on a new port is found.
    """
    log = ClientLog()
    queue: Iterator[Delivery] = iter(deliveries)
    qlock = threading.Lock()
    deadline = time.monotonic() + give_up_after

    def worker() -> None:
        while True:
            with qlock:
                d = next(queue, None)
            if d is None:
                return
            while time.monotonic() < deadline:
                with log.lock:
                    log.attempts += 1
                try:
                    status = _post(port_of(), d, timeout)
                except (OSError, http.client.HTTPException):
                    # No answer, or one cut short (a worker killed between the status line and
                    # the body): not an acknowledgment, so deliver again, as a provider would.
                    with log.lock:
                        log.connection_errors += 1
                    time.sleep(0.05)
                    continue
                if 200 <= status < 300:
                    with log.lock:
                        log.acknowledged.add(d.event_id)
                        log.ack_times.append(time.monotonic())
                    break
                with log.lock:
                    log.refused[status] = log.refused.get(status, 0) + 1
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return log


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_workers(
    master: int, workers: int, *, settle_s: float = 0.6, timeout: float = 120.0
) -> list[int]:
    """Wait until `master` has `workers` children and every one has finished booting.

    The master binds the port before it forks, so an open port says nothing about the workers:
    connections made before a worker has imported the app queue in the backlog, and the first
    worker ready accepts them all (wrk's 32 keep-alive connections then stay on that one worker
    for the whole run while the other idles; the receiver, slower to import, suffered it more
    than the bare app). A booting worker burns CPU; a booted one idles until a request comes,
    so a worker is taken as ready once its CPU time has not grown for `settle_s`.
    """
    deadline = time.monotonic() + timeout
    last: dict[int, tuple[float, float]] = {}  # pid -> (cpu seconds, since when unchanged)
    while time.monotonic() < deadline:
        now = time.monotonic()
        pids = children_of(master)
        settled = 0
        for pid in pids:
            used = cpu_seconds(pid)
            if used is None:
                continue
            seen = last.get(pid)
            if seen is None or seen[0] != used:
                last[pid] = (used, now)
            elif now - seen[1] >= settle_s:
                settled += 1
        if len(pids) == workers and settled == workers:
            return pids
        time.sleep(0.05)
    raise TimeoutError(f"gunicorn {master}: {workers} booted workers not seen in {timeout}s")


def children_of(pid: int) -> list[int]:
    """Worker pids of a gunicorn master (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out
