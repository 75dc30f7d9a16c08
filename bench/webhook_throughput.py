"""Receiver throughput, latency and crash safety under gunicorn (issue 3 figures).

1. Throughput: signed HubSpot v3 deliveries through wrk at concurrency 32 against gunicorn with
   2 workers running the real receiver (verification, rate limit, SQLite WAL inbox), and against
   a bare Flask hello endpoint served the same way, in the same run. Target: receiver >= 60% of
   hello, p99 <= 25 ms.
2. Crash safety: a Python client that retries until it gets a 2xx (as HubSpot does) delivers
   20,000 events while a worker, and separately the master, is SIGKILLed. Afterwards every
   acknowledged delivery is in the inbox, none twice.

Run: `python -m bench.webhook_throughput [--seconds 15] [--deliveries 20000]`. Needs `wrk`
(Debian package `wrk`) for part 1; part 2 needs nothing but Python.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import fresh_settings, print_table, temp_root
from bench.webhook_load import (
    children_of,
    deliver_all,
    free_port,
    gunicorn_command,
    hubspot_deliveries,
    run_wrk,
    wait_for_port,
    wrk_available,
)

SECRET = "bench-webhook-secret"
INTEGRATION = "bench-hubspot"
ROOT = Path(__file__).resolve().parent.parent


def prepare_data_dir(root: Path) -> dict[str, str]:
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
    }


def start(app: str, port: int, env: dict[str, str], workers: int = 2) -> subprocess.Popen:
    proc = subprocess.Popen(gunicorn_command(app, port, workers), env=env, cwd=ROOT)
    wait_for_port(port)
    time.sleep(0.5)  # let every worker boot, not just the first to bind
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


# -- part 1 ---------------------------------------------------------------------------------


def throughput(seconds: int, minimum: int) -> list[list]:
    rows = []
    results = {}
    for label, app in (
        ("bare Flask hello", "bench.webhook_hello_app:app"),
        ("receiver (verify + SQLite WAL inbox)", "webhook_receiver.wsgi:app"),
    ):
        root = temp_root("bench-webhooks-")
        env = prepare_data_dir(root)
        port = free_port()
        proc = start(app, port, env)
        try:
            # More deliveries than the duration can send: each is unique (no duplicates).
            deliveries = hubspot_deliveries(
                max(minimum, 6000 * seconds),
                secret=SECRET,
                host=f"127.0.0.1:{port}",
                integration_id=INTEGRATION,
            )
            result = run_wrk(deliveries, port, root / "wrk", seconds=seconds)
        finally:
            stop(proc)
        stored = inbox_rows(root)[0] if "receiver" in label else None
        results[label] = result
        rows.append(
            [
                label,
                result.requests,
                result.non_2xx,
                stored if stored is not None else "-",
                result.per_second,
                result.latency_ms.get("p50", 0.0),
                result.latency_ms.get("p90", 0.0),
                result.latency_ms.get("p99", 0.0),
            ]
        )
    hello, receiver = results.values()
    ratio = receiver.per_second / hello.per_second
    print_table(
        f"Webhook receiver vs bare Flask: gunicorn 2 workers, wrk concurrency 32, {seconds} s each",
        ["app", "requests", "non-2xx", "inbox rows", "req/s", "p50 ms", "p90 ms", "p99 ms"],
        rows,
    )
    verdict = [
        ["receiver / hello throughput", f"{ratio:.0%}", ">= 60%", "ok" if ratio >= 0.6 else "MISS"],
        [
            "receiver p99 latency",
            f"{receiver.latency_ms.get('p99', 0):.1f} ms",
            "<= 25 ms",
            "ok" if receiver.latency_ms.get("p99", 1e9) <= 25 else "MISS",
        ],
        [
            "deliveries sent to the receiver",
            receiver.requests,
            f">= {minimum:,}",
            "ok" if receiver.requests >= minimum else "MISS",
        ],
    ]
    print_table("Targets", ["figure", "measured", "target", ""], verdict)
    return verdict


# -- part 2 ---------------------------------------------------------------------------------


def crash_run(kill: str, deliveries: int) -> list:
    """Deliver while SIGKILLing a worker or the master; then check the acknowledged set."""
    root = temp_root(f"bench-webhooks-kill-{kill}-")
    env = prepare_data_dir(root)
    port = free_port()
    state = {"proc": start("webhook_receiver.wsgi:app", port, env), "port": port}
    events = hubspot_deliveries(
        deliveries, secret=SECRET, host=f"127.0.0.1:{port}", integration_id=INTEGRATION
    )
    killed = []

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
            killed.append(victim)
        else:
            workers = children_of(master.pid)
            os.kill(master.pid, signal.SIGKILL)
            killed.append(master.pid)
            master.wait()
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
    ok = present == len(log.acknowledged) and rows == distinct
    return [
        f"SIGKILL {kill}",
        deliveries,
        len(log.acknowledged),
        log.connection_errors,
        sum(log.refused.values()),
        rows,
        rows - distinct,
        len(log.acknowledged) - present,
        elapsed,
        "ok" if ok else "LOSS/DUPLICATE",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per app")
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--skip-crash", action="store_true")
    args = parser.parse_args(argv)
    failed = False
    if wrk_available():
        verdict = throughput(args.seconds, args.deliveries)
        failed |= any(row[-1] != "ok" for row in verdict)
    else:
        print("wrk not found (apt-get install wrk): throughput part skipped", file=sys.stderr)
    if not args.skip_crash:
        rows = [crash_run(kill, args.deliveries) for kill in ("worker", "master")]
        print_table(
            "Crash safety: 32 concurrent clients retrying until 2xx; one SIGKILL mid-load",
            [
                "scenario",
                "deliveries",
                "acknowledged",
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
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
