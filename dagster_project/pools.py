"""Dagster concurrency pools the platform's assets and ops share.

One writer per DuckDB file (DESIGN decision 3): every asset or op that writes the DuckDB
warehouse takes `DUCKDB_WRITER_POOL`, whose limit is 1 (`dagster_project/dagster.yaml`). This
module only names pools; it must never import an asset, a job or a provider.
"""

from __future__ import annotations

DUCKDB_WRITER_POOL = "duckdb_writer"
