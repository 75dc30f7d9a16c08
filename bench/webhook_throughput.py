"""Receiver throughput, latency, crash safety and slow clients under gunicorn (issues 3 and 9).

1. Throughput: signed HubSpot v3 deliveries through wrk at concurrency 32 against gunicorn with
   2 workers running the real receiver (verification, rate limit, SQLite WAL inbox), and against
   a bare Flask hello endpoint served the same way, in the same run: both served at once and
   measured in alternating slices (3 x 5 s each by default), so the load of other processes on a
   shared machine falls on both alike; latency percentiles are the worst slice's. The load starts
   once every worker has booted (else the first worker up takes all 32 connections). Only 2xx
   count as throughput. Targets: receiver >= 60% of hello, p99 <= 25 ms, no error at all (non-2xx or
   socket error), and every 2xx in the inbox (inbox rows = 2xx answers, plus at most the
   requests still in flight when wrk stopped, which the server may have committed unanswered).
2. Crash safety: a Python client that retries until it gets a 2xx (as HubSpot does) delivers
   20,000 events while a worker, and separately the master, is SIGKILLed. Afterwards every
   acknowledged delivery is in the inbox, none twice; the kill is proven to have landed during
   the load (deliveries were acknowledged both before and after it, and the victim is gone).
3. Slow clients: 50 connections trickle their bodies a few bytes a second while /health and
   valid deliveries are timed. Targets: both p99 <= 100 ms, every valid delivery a 2xx, and the
   slow clients answered 408 once their read time is up.

Run: `python -m bench.webhook_throughput [--seconds 15] [--deliveries 20000]`;
`--worker-class sync --threads 1` measures the old serving shape. Part 1 needs `wrk` (Debian
package `wrk`; `make bench` installs it where it can): without it the run FAILS (exit 2) unless
`--skip-throughput` is given. Parts 2 and 3 need nothing but Python.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import fresh_settings, print_table, temp_root
from bench.webhook_load import (
    Delivery,
    children_of,
    combine,
    deliver_all,
    free_port,
    gunicorn_command,
    hubspot_deliveries,
    run_wrk,
    wait_for_port,
    wait_for_workers,
    wrk_available,
)

SECRET = "bench-webhook-secret"
INTEGRATION = "bench-hubspot"
ROOT = Path(__file__).resolve().parent.parent
SERVER_FLAGS: list[str] = []  # --worker-class / --threads from the command line
SLICES = 3  # alternating wrk runs per app in part 1


def prepare_data_dir(root: Path, **env: str) -> dict[str, str]:
    """A data directory with one HubSpot integration whose webhook secret is in the vault."""
    from inbox.store import Inbox
    from pipelines.registry import IntegrationRegistry

    settings = fresh_settings(root)
    registry = IntegrationRegistry.from_settings(settings)
    registry.create(
        organization_id="bench",
        user_id="bench",
        type="hubspot",
        name="bench",
        config={"webhook_secret": SECRET},
        integration_id=INTEGRATION,
        actor="bench",
    )
    Inbox.from_settings(settings).create_schema()
    return {
        **os.environ,
        "DATA_DIR": str(root),
        "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
        # The load is the point: the per-integration limit must not be what is measured.
        "WEBHOOK_RATE_LIMIT_PER_SECOND": "1000000",
        "WEBHOOK_RATE_LIMIT_BURST": "1000000",
        "PYTHONPATH": str(ROOT),
        **env,
    }


def start(app: str, port: int, env: dict[str, str], workers: int = 2) -> subprocess.Popen:
    proc = subprocess.Popen(
        gunicorn_command(app, port, workers, extra=SERVER_FLAGS), env=env, cwd=ROOT
    )
    wait_for_port(port)
    # Every worker must have booted, or the first one ready takes every connection.
    wait_for_workers(proc.pid, workers)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def inbox_rows(root: Path) -> tuple[int, int]:
    """(rows, distinct delivery ids) in the SQLite inbox."""
    with sqlite3.connect(root / "inbox.sqlite") as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT delivery_id) FROM webhook_events"
        ).fetchone()
    return rows, distinct


def acknowledged_in_inbox(root: Path, acknowledged: set[int]) -> int:
    with sqlite3.connect(root / "inbox.sqlite") as conn:
        stored = {int(r[0]) for r in conn.execute("SELECT delivery_id FROM webhook_events")}
    return len(acknowledged & stored)


def ok(condition: bool) -> str:
    return "ok" if condition else "MISS"


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# -- part 1 ---------------------------------------------------------------------------------


def throughput(seconds: int, minimum: int, slices: int = SLICES) -> list[list]:
    """Both apps served at once (the one not measured idles), measured in alternating slices
    (hello, receiver, hello, receiver, ...): on a shared machine the load of other processes
    changes from one quarter-minute to the next, and alternating gives both apps the same share
    of it, where two back-to-back runs compared one app's quiet spell with the other's busy one.
    """
    apps = (
        ("bare Flask hello", "bench.webhook_hello_app:app"),
        ("receiver (verify + SQLite WAL inbox)", "webhook_receiver.wsgi:app"),
    )
    slice_s = max(1, round(seconds / slices))
    servers: dict[str, tuple[Path, int, subprocess.Popen, list[Delivery]]] = {}
    parts: dict[str, list] = {label: [] for label, _ in apps}
    try:
        for label, app in apps:
            root = temp_root("bench-webhooks-")
            env = prepare_data_dir(root)
            port = free_port()
            proc = start(app, port, env)
            # More deliveries than the duration can send: each is unique (no duplicates), and
            # each slice sends its own share of them.
            deliveries = hubspot_deliveries(
                max(minimum, 6000 * slice_s * slices),
                secret=SECRET,
                host=f"127.0.0.1:{port}",
                integration_id=INTEGRATION,
            )
            servers[label] = (root, port, proc, deliveries)
        for n in range(slices):
            for label, (root, port, _proc, deliveries) in servers.items():
                share = deliveries[n::slices]
                parts[label].append(run_wrk(share, port, root / f"wrk-{n}", seconds=slice_s))
    finally:
        for _root, _port, proc, _deliveries in servers.values():
            stop(proc)
    rows = []
    results = {}
    stored = 0
    for label, _app in apps:
        result = results[label] = combine(parts[label])
        is_receiver = "receiver" in label
        if is_receiver:
            stored = inbox_rows(servers[label][0])[0]
        rows.append(
            [
                label,
                result.ok,
                result.non_2xx,
                result.socket_errors,
                result.in_flight,
                stored if is_receiver else "-",
                result.per_second,
                result.latency_ms.get("p50", 0.0),
                result.latency_ms.get("p90", 0.0),
                result.latency_ms.get("p99", 0.0),
            ]
        )
    hello, receiver = results.values()
    ratio = receiver.per_second / hello.per_second if hello.per_second else 0.0
    print_table(
        f"Webhook receiver vs bare Flask: gunicorn 2 workers {' '.join(SERVER_FLAGS)}, "
        f"wrk concurrency 32, {slices} alternating slices of {slice_s} s each "
        f"(latency: worst slice) ({load_note()})",
        [
            "app",
            "2xx",
            "non-2xx",
            "socket errors",
            "in flight at stop",
            "inbox rows",
            "2xx/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
        ],
        rows,
    )
    p99 = receiver.latency_ms.get("p99", 1e9)
    unexplained = stored - receiver.ok
    verdict = [
        ["receiver / hello 2xx throughput", f"{ratio:.0%}", ">= 60%", ok(ratio >= 0.6)],
        ["receiver p99 latency", f"{p99:.1f} ms", "<= 25 ms", ok(p99 <= 25)],
        ["errors (non-2xx + socket, both apps)", hello.errors + receiver.errors, "0",
         ok(hello.errors + receiver.errors == 0)],
        ["inbox rows - receiver 2xx", unexplained, f"0..{receiver.in_flight} (in flight)",
         ok(0 <= unexplained <= receiver.in_flight)],
        ["deliveries acknowledged by the receiver", receiver.ok, f">= {minimum:,}",
         ok(receiver.ok >= minimum)],
    ]  # fmt: skip
    print_table("Targets", ["figure", "measured", "target", ""], verdict)
    return verdict


# -- part 2 ---------------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie its parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def crash_run(kill: str, deliveries: int) -> list:
    """Deliver while SIGKILLing a worker or the master; then check the acknowledged set."""
    root = temp_root(f"bench-webhooks-kill-{kill}-")
    env = prepare_data_dir(root)
    port = free_port()
    state = {"proc": start("webhook_receiver.wsgi:app", port, env), "port": port}
    events = hubspot_deliveries(
        deliveries, secret=SECRET, host=f"127.0.0.1:{port}", integration_id=INTEGRATION
    )
    kill_at: list[float] = []
    victim_gone: list[bool] = []

    def killer() -> None:
        # Wait until a third of the deliveries are stored, then kill.
        while True:
            try:
                if inbox_rows(root)[0] >= deliveries // 3:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        master = state["proc"]
        if kill == "worker":
            victim = children_of(master.pid)[0]
            os.kill(victim, signal.SIGKILL)
            kill_at.append(time.monotonic())
            deadline = time.monotonic() + 5
            while not _gone(victim) and time.monotonic() < deadline:
                time.sleep(0.01)
            victim_gone.append(_gone(victim))
        else:
            workers = children_of(master.pid)
            os.kill(master.pid, signal.SIGKILL)
            kill_at.append(time.monotonic())
            victim_gone.append(master.wait() == -signal.SIGKILL)
            # Orphaned workers notice their parent is gone and exit; make sure, then restart
            # on the same port the way a process supervisor would.
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            state["proc"] = start("webhook_receiver.wsgi:app", port, env)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    started = time.perf_counter()
    log = deliver_all(events, lambda: state["port"], concurrency=32)
    elapsed = time.perf_counter() - started
    thread.join(timeout=5)
    stop(state["proc"])
    rows, distinct = inbox_rows(root)
    present = acknowledged_in_inbox(root, log.acknowledged)
    before = sum(1 for t in log.ack_times if kill_at and t < kill_at[0])
    after = len(log.ack_times) - before if kill_at else 0
    landed = bool(kill_at) and before > 0 and after > 0 and victim_gone == [True]
    safe = present == len(log.acknowledged) and rows == distinct
    verdict = "ok" if safe and landed else ("KILL NOT PROVEN" if safe else "LOSS/DUPLICATE")
    return [
        f"SIGKILL {kill}",
        deliveries,
        len(log.acknowledged),
        before,
        after,
        "yes" if victim_gone == [True] else "NO",
        log.connection_errors,
        sum(log.refused.values()),
        rows,
        rows - distinct,
        len(log.acknowledged) - present,
        elapsed,
        verdict,
    ]


# -- part 3 ---------------------------------------------------------------------------------


@dataclass
class Timings:
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float, failure: str | None) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            if failure:
                self.failures[failure] = self.failures.get(failure, 0) + 1

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("inf")


@dataclass
class SlowStats:
    connected: int = 0  # slow connections currently mid-body
    peak: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _request(port: int, method: str, path: str, body: bytes, headers: dict, timeout: float):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _slow_client(port: int, delivery: Delivery, stop_at: float, stats: SlowStats) -> None:
    """Send headers, then the body 5 bytes every 0.2 s; when answered, start over."""
    head = f"POST {delivery.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in delivery.headers().items())
    body = delivery.body + b" " * 4000  # long enough to outlast any read deadline
    head += f"Content-Length: {len(body)}\r\n\r\n"
    while time.monotonic() < stop_at:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            time.sleep(0.2)
            continue
        answer = "no answer"
        with sock:
            with stats.lock:
                stats.connected += 1
                stats.peak = max(stats.peak, stats.connected)
            try:
                sock.sendall(head.encode())
                sock.setblocking(False)
                for i in range(0, len(body), 5):
                    if time.monotonic() >= stop_at:
                        break
                    with contextlib.suppress(BlockingIOError):
                        got = sock.recv(65536)
                        answer = got.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
                        break
                    sock.sendall(body[i : i + 5])
                    time.sleep(0.2)
            except OSError as exc:
                answer = f"error {type(exc).__name__}"
            finally:
                with stats.lock:
                    stats.connected -= 1
        if time.monotonic() < stop_at:
            with stats.lock:
                stats.answers[answer] = stats.answers.get(answer, 0) + 1


def slow_clients(seconds: int, slow: int = 50, senders: int = 4) -> list[list]:
    """Valid deliveries and /health, timed while `slow` connections trickle their bodies."""
    root = temp_root("bench-webhooks-slow-")
    env = prepare_data_dir(root)
    port = free_port()
    proc = start("webhook_receiver.wsgi:app", port, env)
    stats = SlowStats()
    health, deliveries = Timings(), Timings()
    try:
        batch = hubspot_deliveries(
            slow + 20_000, secret=SECRET, host=f"127.0.0.1:{port}", integration_id=INTEGRATION
        )
        trickled, valid = batch[:slow], iter(batch[slow:])
        vlock = threading.Lock()
        # The attack runs a little longer than the measurement, which starts once it is in force.
        stop_at = time.monotonic() + seconds + 4
        attackers = [
            threading.Thread(target=_slow_client, args=(port, d, stop_at, stats), daemon=True)
            for d in trickled
        ]
        for t in attackers:
            t.start()
        time.sleep(2)
        in_force = stats.connected
        measure_until = time.monotonic() + seconds

        def probe() -> None:
            while time.monotonic() < measure_until:
                began = time.perf_counter()
                try:
                    status = _request(port, "GET", "/health", b"", {}, timeout=15)
                    failure = None if status == 200 else f"HTTP {status}"
                except OSError as exc:
                    failure = type(exc).__name__
                health.add((time.perf_counter() - began) * 1000, failure)
                time.sleep(0.02)

        def send() -> None:
            while time.monotonic() < measure_until:
                with vlock:
                    d = next(valid, None)
                if d is None:  # every prepared delivery was sent: this sender is done
                    return
                began = time.perf_counter()
                try:
                    status = _request(port, "POST", d.path, d.body, d.headers(), timeout=15)
                    failure = None if 200 <= status < 300 else f"HTTP {status}"
                except OSError as exc:
                    failure = type(exc).__name__
                deliveries.add((time.perf_counter() - began) * 1000, failure)

        workers = [threading.Thread(target=probe)] + [
            threading.Thread(target=send) for _ in range(senders)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        for t in attackers:
            t.join(timeout=20)
    finally:
        stop(proc)
    rows = [
        [name, len(t.latencies_ms), sum(t.failures.values()), t.p(0.5), t.p(0.99), max(
            t.latencies_ms, default=float("inf"))]
        for name, t in (("/health", health), ("valid deliveries", deliveries))
    ]  # fmt: skip
    print_table(
        f"Slow clients: {slow} connections trickling bodies (5 bytes / 0.2 s), {senders} "
        f"delivery senders and a /health probe, {seconds} s, gunicorn 2 workers "
        f"{' '.join(SERVER_FLAGS)} ({load_note()})",
        ["requests", "count", "failed", "p50 ms", "p99 ms", "max ms"],
        rows,
    )
    refused_408 = sum(n for a, n in stats.answers.items() if " 408 " in a)
    print(f"slow connections in force when measuring: {in_force} (peak {stats.peak}); "
          f"their answers: {stats.answers or 'none'}")  # fmt: skip
    verdict = [
        ["slow connections mid-body during the measurement", in_force, f">= {slow}",
         ok(in_force >= slow)],
        ["/health p99", f"{health.p(0.99):.1f} ms", "<= 100 ms", ok(health.p(0.99) <= 100)],
        ["valid delivery p99", f"{deliveries.p(0.99):.1f} ms", "<= 100 ms",
         ok(deliveries.p(0.99) <= 100)],
        ["failed /health or deliveries", sum(health.failures.values())
         + sum(deliveries.failures.values()), "0",
         ok(not health.failures and not deliveries.failures and deliveries.latencies_ms != [])],
        ["slow clients answered 408 (read time bounded)", refused_408, f">= {slow}",
         ok(refused_408 >= slow)],
    ]  # fmt: skip
    print_table("Targets (slow clients)", ["figure", "measured", "target", ""], verdict)
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per app")
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--slow-seconds", type=int, default=15)
    parser.add_argument("--skip-throughput", action="store_true", help="no wrk part")
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument("--skip-slow", action="store_true")
    parser.add_argument("--worker-class", help="override the receiver's (gthread)")
    parser.add_argument("--threads", type=int, help="override WEBHOOK_THREADS")
    args = parser.parse_args(argv)
    if args.worker_class:
        SERVER_FLAGS.extend(["--worker-class", args.worker_class])
    if args.threads:
        SERVER_FLAGS.extend(["--threads", str(args.threads)])
    failed = False
    if not args.skip_throughput:
        if not wrk_available():
            print(
                "FAILED: wrk is not installed, so the throughput part cannot run. Install it "
                "(`apt-get install -y wrk`, or `make bench`, which does where it can) or pass "
                "--skip-throughput.",
                file=sys.stderr,
            )
            return 2
        verdict = throughput(args.seconds, args.deliveries)
        failed |= any(row[-1] != "ok" for row in verdict)
    if not args.skip_crash:
        rows = [crash_run(kill, args.deliveries) for kill in ("worker", "master")]
        print_table(
            "Crash safety: 32 concurrent clients retrying until 2xx; one SIGKILL mid-load "
            f"({load_note()})",
            [
                "scenario",
                "deliveries",
                "acknowledged",
                "acked before kill",
                "acked after kill",
                "victim gone",
                "conn errors",
                "non-2xx",
                "inbox rows",
                "duplicates",
                "acked but missing",
                "seconds",
                "",
            ],
            rows,
        )
        failed |= any(row[-1] != "ok" for row in rows)
    if not args.skip_slow:
        verdict = slow_clients(args.slow_seconds)
        failed |= any(row[-1] != "ok" for row in verdict)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
