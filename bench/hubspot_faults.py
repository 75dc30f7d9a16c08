"""Correctness under faults: 10% 5xx, 5% 429 and added latency; then a SIGKILL during the load.

Target (issue 2): after each scenario the warehouse equals the sandbox's truth (ids and
property values) with no duplicate ids. Usage: python -m bench.hubspot_faults [--contacts 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import httpx

from bench.common import fresh_settings, print_table, register_integration, temp_root
from sources.common.http import RetryPolicy

ENTITIES = ("contacts", "companies", "deals")
FAST_RETRY = RetryPolicy(max_attempts=12, backoff_base=0.05, rate_limit_fallback_wait=0.05)


def verify(settings, base_url: str, integration_id: str) -> list[str]:
    from destinations.warehouse import Warehouse, dataset_name
    from sandbox.hubspot.verify import compare, sandbox_truth

    warehouse = Warehouse.from_settings(settings)
    conn = warehouse.connect_readonly()
    try:
        out = []
        for entity in ENTITIES:
            diff = compare(
                sandbox_truth(base_url, entity),
                conn,
                f"{dataset_name('hubspot', integration_id)}.{entity}",
            )
            out.append(f"{entity}: {'EQUAL' if diff.equal else 'DIFFERENT'} ({diff.summary()})")
        return out
    finally:
        conn.close()


def _sync_child(data_dir: str, key: str, integration_id: str, full: bool) -> None:
    from core.settings import Settings
    from pipelines.runner import SyncRequest, SyncRunner

    settings = Settings(
        DATA_DIR=Path(data_dir), ENCRYPTION_KEY=key, ALLOW_LOCAL_PROVIDER_HOSTS=True, _env_file=None
    )
    SyncRunner(settings, retry=FAST_RETRY).run(SyncRequest(integration_id, full_refresh=full))


def kill_during_load(settings, integration_id: str) -> str:
    """Start a full sync in a child process and SIGKILL it once a package is being loaded."""
    ctx = mp.get_context("spawn")
    proc = ctx.Process(
        target=_sync_child,
        args=(
            str(settings.data_dir),
            settings.ENCRYPTION_KEY.get_secret_value(),
            integration_id,
            True,
        ),
    )
    proc.start()
    load_dir = settings.dlt_pipelines_dir / f"hubspot__{integration_id}" / "load" / "normalized"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.is_alive():
        if load_dir.exists() and any(load_dir.iterdir()):
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            return "killed during load"
        time.sleep(0.005)
    proc.join()
    return f"not killed (exit {proc.exitcode})"


def main() -> None:
    from pipelines.runner import SyncRequest, SyncRunner
    from sandbox.common.server import start_sandbox_process
    from sandbox.hubspot.config import HubSpotSandboxConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    args = parser.parse_args()
    config = HubSpotSandboxConfig(
        contacts=args.contacts,
        companies=args.contacts // 5,
        deals=args.contacts // 4,
        ten_second_limit=10_000_000,
        daily_limit=1_000_000_000,
    )
    sandbox = start_sandbox_process(config)
    base = sandbox.base_url
    rows = []
    try:
        settings = fresh_settings(temp_root("bench-faults-"))
        integration_id = register_integration(settings, base)
        runner = SyncRunner(settings, retry=FAST_RETRY)
        faults = {"rate_5xx": 0.10, "rate_429": 0.05, "latency_ms": 5, "seed": 7}
        httpx.post(f"{base}/_sandbox/faults", json=faults, timeout=10).raise_for_status()
        started = time.perf_counter()
        full = runner.run(SyncRequest(integration_id, full_refresh=True))
        full_s = time.perf_counter() - started
        for entity in ENTITIES:
            httpx.post(
                f"{base}/_sandbox/mutate",
                json={"object_type": entity, "count": max(1, config.contacts // 100)},
                timeout=60,
            ).raise_for_status()
        httpx.post(
            f"{base}/_sandbox/archive", json={"object_type": "contacts", "count": 25}, timeout=60
        ).raise_for_status()
        started = time.perf_counter()
        incr = runner.run(SyncRequest(integration_id))
        incr_s = time.perf_counter() - started
        httpx.delete(f"{base}/_sandbox/faults", timeout=10)
        for label, result, seconds in (("full sync", full, full_s), ("incremental", incr, incr_s)):
            rows.append(
                [
                    f"{label} under faults",
                    sum(result.rows_loaded.get(e, 0) for e in ENTITIES),
                    result.requests,
                    result.retries,
                    result.rate_limit_waits,
                    seconds,
                ]
            )
        verdict_faults = verify(settings, base, integration_id)

        kill_settings = fresh_settings(temp_root("bench-kill-"))
        kill_id = register_integration(kill_settings, base, "bench_kill")
        outcome = kill_during_load(kill_settings, kill_id)
        started = time.perf_counter()
        rerun = SyncRunner(kill_settings, retry=FAST_RETRY).run(SyncRequest(kill_id))
        rows.append(
            [
                f"rerun after SIGKILL ({outcome})",
                sum(rerun.rows_loaded.get(e, 0) for e in ENTITIES),
                rerun.requests,
                rerun.retries,
                rerun.rate_limit_waits,
                time.perf_counter() - started,
            ]
        )
        verdict_kill = verify(kill_settings, base, kill_id)
    finally:
        sandbox.stop()
    print_table(
        f"Faults: 10% 5xx, 5% 429, +5 ms latency; {args.contacts:,} contacts",
        ["scenario", "rows loaded", "requests", "retries", "429 waits", "seconds"],
        rows,
    )
    print("\nwarehouse vs sandbox truth after the fault runs:")
    for line in verdict_faults:
        print(f"  {line}")
    print("warehouse vs sandbox truth after kill + rerun:")
    for line in verdict_kill:
        print(f"  {line}")


if __name__ == "__main__":
    main()
