"""The sync-run log as a warehouse table (`platform_ops.sync_runs`), so analysts and dashboards
can read run history next to the data. One small upsert per run over the plain DB-API: it must
stay cheap enough to run after every sync, and it never touches the raw datasets.
"""

from __future__ import annotations

import json
from typing import Any

from destinations.warehouse import Warehouse

OPS_SCHEMA = "platform_ops"
COLUMNS: dict[str, str] = {
    "run_id": "TEXT PRIMARY KEY",
    "integration_id": "TEXT",
    "provider": "TEXT",
    "status": "TEXT",
    "mode": "TEXT",
    "entities": "TEXT",
    "rows_loaded": "BIGINT",
    "rows_by_table": "TEXT",
    "requests": "BIGINT",
    "retries": "BIGINT",
    "rate_limit_waits": "BIGINT",
    "rate_limit_wait_s": "DOUBLE PRECISION",
    "duration_s": "DOUBLE PRECISION",
    "error": "TEXT",
    "finished_at": "TIMESTAMPTZ",
}


def record_sync_run(warehouse: Warehouse, row: dict[str, Any]) -> None:
    """Insert or update one run's row (same SQL on DuckDB and Postgres)."""
    values = {k: row.get(k) for k in COLUMNS}
    values["rows_by_table"] = json.dumps(values["rows_by_table"] or {}, sort_keys=True)
    names = list(COLUMNS)
    marker = "?" if warehouse.kind == "duckdb" else "%s"
    ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "run_id")
    statements = [
        (f"CREATE SCHEMA IF NOT EXISTS {OPS_SCHEMA}", None),
        (f"CREATE TABLE IF NOT EXISTS {OPS_SCHEMA}.sync_runs ({ddl})", None),
        (
            f"INSERT INTO {OPS_SCHEMA}.sync_runs ({', '.join(names)}) "
            f"VALUES ({', '.join([marker] * len(names))}) "
            f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
            [values[n] for n in names],
        ),
    ]
    with warehouse.writer_lock():
        warehouse.execute(statements)
