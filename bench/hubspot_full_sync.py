"""Full sync of N contacts from the sandbox into DuckDB vs. a bare fetch of the same pages.

Targets (issue 9, item 5): pipeline throughput >= 0.75 of the bare fetch measured in the same run
on a quiet machine, >= 0.60 with one core kept busy by another process (a busy loop running
during both measurements of that variant), peak RSS <= 600 MB, every row loaded and the
warehouse equal to the sandbox's truth (ids, archived flag, every property value).
Each measurement runs in its own child process against the same sandbox process, one after the
other. Usage: python -m bench.hubspot_full_sync [--contacts 200000] [--variants quiet,busy]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    PRIVATE_APP_TOKEN,
    fresh_settings,
    measure_in_child,
    print_table,
    register_integration,
    temp_root,
)

TARGETS = {"quiet": 0.75, "busy": 0.60}
MAX_RSS_MB = 600


def bare_fetch(base_url: str) -> dict:
    """The baseline: the same list pages (all properties, associations), JSON-decoded only."""
    from sources.hubspot.entities import ENTITIES

    entity = ENTITIES["contacts"]
    headers = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}
    cpu = cpu_seconds()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        names = sorted(p["name"] for p in http.get("/crm/v3/properties/contacts").json()["results"])
        params = {
            "limit": "100",
            "archived": "false",
            "associations": ",".join(entity.association_types),
            "properties": ",".join(names),
        }
        rows = requests = 0
        after = None
        while True:
            query = dict(params, **({"after": after} if after else {}))
            body = orjson.loads(
                http.get(f"/crm/v3/objects/{entity.object_type}", params=query).content
            )
            requests += 1
            rows += len(body["results"])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
    seconds = time.perf_counter() - started
    return {"rows": rows, "requests": requests, "seconds": seconds, "cpu": cpu_seconds() - cpu}


def pipeline_sync(base_url: str) -> dict:
    from pipelines.runner import SyncRequest, SyncRunner

    settings = fresh_settings(temp_root("bench-full-"))
    integration_id = register_integration(settings, base_url)
    runner = SyncRunner(settings)
    cpu = cpu_seconds()
    started = time.perf_counter()
    result = runner.run(SyncRequest(integration_id, entities=["contacts"], full_refresh=True))
    return {
        "seconds": time.perf_counter() - started,
        "cpu": cpu_seconds() - cpu,
        "rows": result.reports["contacts"].rows,
        "requests": result.requests,
        "loaded": result.rows_loaded.get("contacts", 0),
        "steps": result.step_seconds,
        "duckdb": str(settings.duckdb_path),
        "dataset": result.dataset,
    }


def cpu_seconds() -> float:
    """CPU time of this process, all threads (less sensitive to a shared machine than wall)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _busy_loop() -> None:
    while True:
        pass


def _row_digest(record_id: str, archived: bool, values: list[Any]) -> bytes:
    return hashlib.blake2b(orjson.dumps([record_id, archived, values]), digest_size=12).digest()


def truth_digests(base_url: str) -> tuple[list[str], dict[str, bytes]]:
    """(property names, digest of every live contact) from the sandbox's truth stream."""
    from sandbox.hubspot.verify import truth_records

    names: list[str] = []
    out: dict[str, bytes] = {}
    for record in truth_records(base_url, "contacts", archived=False):
        props = record.get("properties") or {}
        names = names or sorted(props)
        out[str(record["id"])] = _row_digest(
            str(record["id"]), bool(record.get("archived")), [props.get(n) for n in names]
        )
    return names, out


def warehouse_digests(duckdb_path: str, dataset: str, names: list[str]) -> dict[str, bytes]:
    """The same digests from the warehouse's contacts table (duplicates make the count differ)."""
    import duckdb

    from sandbox.hubspot.verify import property_column

    conn = duckdb.connect(duckdb_path, read_only=True)
    try:
        columns = {r[0] for r in conn.execute(f"DESCRIBE {dataset}.contacts").fetchall()}
        wanted = [property_column(n) for n in names]
        select = ", ".join(c if c in columns else "NULL" for c in wanted)
        reader = conn.sql(f"SELECT id, archived, {select} FROM {dataset}.contacts").to_arrow_reader(
            20_000
        )
        out: dict[str, bytes] = {}
        duplicates = 0
        for batch in reader:
            cols = [c.to_pylist() for c in batch.columns]
            for i, record_id in enumerate(cols[0]):
                if record_id in out:
                    duplicates += 1
                out[record_id] = _row_digest(record_id, bool(cols[1][i]), [c[i] for c in cols[2:]])
        if duplicates:
            out["<duplicates>"] = str(duplicates).encode()
        return out
    finally:
        conn.close()


def content_equal(truth: dict[str, bytes], got: dict[str, bytes]) -> tuple[bool, str]:
    missing = len(truth.keys() - got.keys())
    extra = len(got.keys() - truth.keys())
    differ = sum(1 for k, v in truth.items() if k in got and got[k] != v)
    ok = not (missing or extra or differ)
    return ok, f"{missing} missing, {extra} extra, {differ} differing"


def run_variant(base_url: str, busy: bool) -> tuple[dict, dict]:
    """Bare fetch then pipeline, with a busy-loop process during both when `busy`."""
    hog = None
    if busy:
        hog = mp.get_context("spawn").Process(target=_busy_loop, daemon=True)
        hog.start()
    try:
        base = measure_in_child(bare_fetch, base_url)
        ours = measure_in_child(pipeline_sync, base_url)
    finally:
        if hog is not None:
            hog.terminate()
            hog.join()
    return base, ours


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    from sandbox.common.server import start_sandbox_process
    from sandbox.hubspot.config import HubSpotSandboxConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--variants", default="quiet,busy", help="comma list of quiet,busy")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in TARGETS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    config = HubSpotSandboxConfig(
        contacts=args.contacts,
        companies=max(10, args.contacts // 10),
        deals=10,
        ten_second_limit=10_000_000,
        daily_limit=1_000_000_000,
    )
    print(f"load average before: {load_average()}")
    sandbox = start_sandbox_process(config)
    results: dict[str, tuple[dict, dict, bool, str]] = {}
    try:
        names, truth = truth_digests(sandbox.base_url)
        for variant in variants:
            load = load_average()
            base, ours = run_variant(sandbox.base_url, busy=variant == "busy")
            equal, detail = content_equal(
                truth, warehouse_digests(ours["duckdb"], ours["dataset"], names)
            )
            ours["load_average"] = f"{load} -> {load_average()}"
            results[variant] = (base, ours, equal, detail)
    finally:
        sandbox.stop()
    print(f"load average after: {load_average()}")

    rows: list[list[Any]] = []
    verdicts: list[str] = []
    all_met = True
    for variant, (base, ours, equal, detail) in results.items():
        base_rps = base["rows"] / base["seconds"]
        our_rps = ours["rows"] / ours["seconds"]
        ratio = our_rps / base_rps
        label = "quiet" if variant == "quiet" else "one core busy"
        rows.append(
            [
                f"{label}: bare fetch (httpx + orjson)",
                base["rows"],
                base["requests"],
                base["seconds"],
                base["cpu"],
                base_rps,
                1.0,
                base["peak_rss_mb"],
            ]
        )
        rows.append(
            [
                f"{label}: platform full sync -> DuckDB",
                ours["rows"],
                ours["requests"],
                ours["seconds"],
                ours["cpu"],
                our_rps,
                ratio,
                ours["peak_rss_mb"],
            ]
        )
        loaded = ours["loaded"] == base["rows"] == len(truth)
        met = ratio >= TARGETS[variant] and ours["peak_rss_mb"] <= MAX_RSS_MB and loaded and equal
        all_met = all_met and met
        steps = ", ".join(f"{k} {v:.1f}" for k, v in ours["steps"].items())
        verdicts.append(
            f"{label}: ratio {ratio:.2f} (>= {TARGETS[variant]:.2f}), "
            f"peak RSS {ours['peak_rss_mb']:.0f} MB (<= {MAX_RSS_MB}), "
            f"rows loaded {ours['loaded']:,} of {len(truth):,}, content equal to the sandbox: "
            f"{'yes' if equal else 'NO'} ({detail}); steps (s): {steps}; "
            f"load average {ours['load_average']} -> "
            f"{'met' if met else 'NOT met'}"
        )
    print_table(
        f"Full sync of {args.contacts:,} contacts, sandbox page size 100 (all properties)",
        [
            "variant",
            "rows",
            "requests",
            "seconds",
            "CPU s",
            "rows/s",
            "vs bare fetch",
            "peak RSS MB",
        ],
        rows,
    )
    print()
    for line in verdicts:
        print(line)
    print(
        f"\ntarget (all variants, every figure and equal content): {'met' if all_met else 'NOT met'}"
    )
    raise SystemExit(0 if all_met else 1)


if __name__ == "__main__":
    main()
