"""Incremental sync cost after 1% of records changed, and an idle incremental sync.

Target (issue 2): requests per entity <= changed / page size + 3; with nothing changed, no load
package. Each entity is synced on its own so its requests can be counted on their own.
Usage: python -m bench.hubspot_incremental [--contacts 200000]
"""

from __future__ import annotations

import argparse
import math

import httpx

from bench.common import fresh_settings, print_table, register_integration, temp_root
from sources.hubspot.client import SEARCH_PAGE_SIZE


def main() -> None:
    from pipelines.runner import SyncRequest, SyncRunner
    from sandbox.common.server import start_sandbox_process
    from sandbox.hubspot.config import HubSpotSandboxConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    args = parser.parse_args()
    sizes = {
        "contacts": args.contacts,
        "companies": args.contacts // 5,
        "deals": args.contacts // 4,
    }
    config = HubSpotSandboxConfig(**sizes, ten_second_limit=10_000_000, daily_limit=1_000_000_000)
    sandbox = start_sandbox_process(config)
    rows = []
    try:
        settings = fresh_settings(temp_root("bench-incr-"))
        integration_id = register_integration(settings, sandbox.base_url)
        runner = SyncRunner(settings)
        runner.run(SyncRequest(integration_id, full_refresh=True))
        changed = {}
        for entity, total in sizes.items():
            count = max(1, total // 100)
            body = httpx.post(
                f"{sandbox.base_url}/_sandbox/mutate",
                json={"object_type": entity, "count": count},
                timeout=60,
            ).json()
            changed[entity] = len(body["ids"])
        for label, expect_changes in (("1% changed", True), ("nothing changed", False)):
            for entity in sizes:
                result = runner.run(SyncRequest(integration_id, entities=[entity]))
                n = changed[entity] if expect_changes else 0
                by_kind = result.requests_by_kind
                entity_requests = sum(v for k, v in by_kind.items() if k != "associations")
                # The request bound is the target after changes; idle runs are held to
                # "no load package" (they re-read the lookback window, deduplicated by id).
                bound = math.ceil(n / SEARCH_PAGE_SIZE) + 3 if expect_changes else None
                within = "-" if bound is None else ("yes" if entity_requests <= bound else "NO")
                rows.append(
                    [
                        label,
                        entity,
                        n,
                        result.reports[entity].rows,
                        entity_requests,
                        "-" if bound is None else bound,
                        within,
                        by_kind.get("associations", 0),
                        len(result.load_ids),
                        ", ".join(f"{k}={v}" for k, v in sorted(by_kind.items())),
                    ]
                )
    finally:
        sandbox.stop()
    print_table(
        f"Incremental sync after changes ({args.contacts:,} contacts; search page {SEARCH_PAGE_SIZE})",
        [
            "scenario",
            "entity",
            "changed",
            "rows read",
            "requests",
            "bound",
            "within",
            "assoc. requests",
            "load packages",
            "requests by kind",
        ],
        rows,
    )
    idle_packages = sum(r[8] for r in rows if r[0] == "nothing changed")
    within = all(r[6] == "yes" for r in rows if r[0] == "1% changed")
    print(
        f"\nrequest bound met for every entity: {within}; "
        f"load packages with nothing changed: {idle_packages} (target 0)"
    )


if __name__ == "__main__":
    main()
