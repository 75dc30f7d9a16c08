"""Full sync of N contacts from the sandbox into DuckDB vs. a bare fetch of the same pages.

Target (issue 2): pipeline throughput >= 60% of bare fetch, pipeline peak RSS <= 600 MB.
Both run in their own child process against the same sandbox process, one after the other.
Usage: python -m bench.hubspot_full_sync [--contacts 200000]
"""

from __future__ import annotations

import argparse
import time

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


def bare_fetch(base_url: str) -> dict:
    """The baseline: the same list pages (all properties, associations), JSON-decoded only."""
    from sources.hubspot.entities import ENTITIES

    entity = ENTITIES["contacts"]
    headers = {"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"}
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
    return {"rows": rows, "requests": requests, "seconds": time.perf_counter() - started}


def pipeline_sync(base_url: str) -> dict:
    from pipelines.runner import SyncRequest, SyncRunner

    settings = fresh_settings(temp_root("bench-full-"))
    integration_id = register_integration(settings, base_url)
    runner = SyncRunner(settings)
    started = time.perf_counter()
    result = runner.run(SyncRequest(integration_id, entities=["contacts"], full_refresh=True))
    return {
        "seconds": time.perf_counter() - started,
        "rows": result.reports["contacts"].rows,
        "requests": result.requests,
        "loaded": result.rows_loaded.get("contacts", 0),
        "steps": result.step_seconds,
    }


def main() -> None:
    from sandbox.common.server import start_sandbox_process
    from sandbox.hubspot.config import HubSpotSandboxConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    args = parser.parse_args()
    config = HubSpotSandboxConfig(
        contacts=args.contacts,
        companies=max(10, args.contacts // 10),
        deals=10,
        ten_second_limit=10_000_000,
        daily_limit=1_000_000_000,
    )
    sandbox = start_sandbox_process(config)
    try:
        base = measure_in_child(bare_fetch, sandbox.base_url)
        ours = measure_in_child(pipeline_sync, sandbox.base_url)
    finally:
        sandbox.stop()
    base_rps = base["rows"] / base["seconds"]
    our_rps = ours["rows"] / ours["seconds"]
    print_table(
        f"Full sync of {args.contacts:,} contacts, sandbox page size 100 (all properties)",
        ["variant", "rows", "requests", "seconds", "rows/s", "vs bare fetch", "peak RSS MB"],
        [
            [
                "bare fetch (httpx + orjson)",
                base["rows"],
                base["requests"],
                base["seconds"],
                base_rps,
                1.0,
                base["peak_rss_mb"],
            ],
            [
                "platform full sync -> DuckDB",
                ours["rows"],
                ours["requests"],
                ours["seconds"],
                our_rps,
                our_rps / base_rps,
                ours["peak_rss_mb"],
            ],
        ],
    )
    print("\npipeline steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in ours["steps"].items()))
    ok = our_rps / base_rps >= 0.6 and ours["peak_rss_mb"] <= 600 and ours["loaded"] == base["rows"]
    print(
        f"\ntarget (>= 0.60 of bare fetch, <= 600 MB, all rows loaded): {'met' if ok else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
