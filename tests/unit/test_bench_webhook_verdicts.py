"""The webhook benchmark cannot pass by accident (issue 9 item 18): no wrk is a failure, a
refusal is not throughput, and wrk's own error counts reach the verdict."""

from __future__ import annotations

import os
import signal

from bench import webhook_throughput
from bench.webhook_load import parse_wrk

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:1234
  2 threads and 32 connections
  Latency Distribution
     50%    7.88ms
     75%   12.79ms
     90%   17.59ms
     99%   34.62ms
  26142 requests in 10.00s, 4.1MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 142
Requests/sec:   2614.20
BENCH sent=26174 answered=26142 ok2xx=26000
"""


def test_without_wrk_the_benchmark_fails_loudly(monkeypatch, capsys):
    monkeypatch.setattr(webhook_throughput, "wrk_available", lambda: False)
    assert webhook_throughput.main(["--skip-crash", "--skip-slow"]) == 2
    assert "wrk is not installed" in capsys.readouterr().err


def test_only_2xx_answers_are_throughput_and_errors_are_counted():
    result = parse_wrk(WRK_OUTPUT)
    assert result.ok == 26_000
    assert result.per_second == 2_600.0  # not 26,142 requests / 10 s
    assert result.errors == 142 + 5
    assert result.in_flight == 32
    assert result.latency_ms["p99"] == 34.62


FAKE_MASTER = """
import os, sys, time
for _ in range(2):
    if os.fork() == 0:
        end = time.monotonic() + float(sys.argv[1])  # "importing the app"
        while time.monotonic() < end:
            pass
        time.sleep(60)  # booted: idle until a request comes
        os._exit(0)
time.sleep(60)
"""


def test_the_benchmark_waits_until_every_worker_has_booted():
    """An open port is not a booted worker: the first one ready would take every connection."""
    import subprocess
    import sys
    import time

    from bench.webhook_load import children_of, cpu_seconds, wait_for_workers

    boot_s = 1.5
    master = subprocess.Popen([sys.executable, "-c", FAKE_MASTER, str(boot_s)])
    try:
        began = time.monotonic()
        workers = wait_for_workers(master.pid, 2, settle_s=0.3, timeout=30)
        assert time.monotonic() - began >= boot_s
        assert sorted(workers) == sorted(children_of(master.pid))
        used = [cpu_seconds(pid) for pid in workers]
        time.sleep(0.3)
        assert [cpu_seconds(pid) for pid in workers] == used  # idle: done booting
    finally:
        for pid in children_of(master.pid):
            os.kill(pid, signal.SIGKILL)
        master.kill()
        master.wait()


def test_the_crash_client_retries_an_answer_cut_short():
    """A worker killed between the status line and the body leaves a cut answer: the client
    must deliver again (as a provider would), not lose the delivery with its thread."""
    import socket
    import threading

    from bench.webhook_load import Delivery, deliver_all

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    answers = [
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 29\r\n\r\n",  # then the connection drops
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    ]

    def serve() -> None:
        for answer in answers:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    delivery = Delivery(1, "/api/v1/webhooks/hubspot/x", b"[]", "sig", "0")
    log = deliver_all([delivery], lambda: port, concurrency=1, give_up_after=10)
    thread.join(5)
    server.close()
    assert log.acknowledged == {1}
    assert log.connection_errors == 1


def test_alternating_slices_add_up_and_keep_the_worst_latency():
    from bench.webhook_load import WrkResult, combine

    quiet = WrkResult(1000, 5.0, 0, {"p50": 5.0, "p99": 20.0}, ok=990, sent=1002, answered=1000)
    busy = WrkResult(600, 5.0, 4, {"p50": 9.0, "p99": 61.0}, ok=596, sent=601, answered=600,
                     socket_errors=1)  # fmt: skip
    both = combine([quiet, busy])
    assert (both.ok, both.seconds, both.per_second) == (1586, 10.0, 158.6)
    assert (both.errors, both.in_flight) == (4 + 1, 3)
    assert both.latency_ms == {"p50": 9.0, "p99": 61.0}  # never better than the worst slice
