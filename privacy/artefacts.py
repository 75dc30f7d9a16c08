"""Run artefacts under DATA_DIR that hold record values: dlt's load packages.

dlt keeps every load package it loaded (`DATA_DIR/dlt/<pipeline>/load/loaded/<load id>/`,
with the job files it loaded: parquet for DuckDB, CSV for Postgres, JSONL/insert-values
elsewhere) and pending ones under `load/normalized`, `normalize/` and `extract/`. An erased
record's rows are removed from those files in place (rewritten to a temporary file, then
renamed over); files of other tables and other records stay byte for byte. The merge `.sql`
files, schemas and state hold no record values and are left alone.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SCRUBBED_MARKER = ".privacy_scrubbed"


@dataclass(frozen=True)
class RowFilter:
    """Rows of `table` whose `column` is one of `values` are removed."""

    table: str
    column: str
    values: frozenset[str]


@dataclass
class ScrubResult:
    files_rewritten: list[str] = field(default_factory=list)
    rows_removed: int = 0


def pipeline_dir(pipelines_dir: Path, provider: str, integration_id: str) -> Path:
    """The dlt working directory of an integration (the runner's pipeline name)."""
    return Path(pipelines_dir) / f"{provider}__{integration_id}".replace("-", "_")


def package_files(root: Path) -> Iterator[Path]:
    """Job files of every package (loaded and pending) under a pipeline's working dir."""
    for stage in ("load", "normalize", "extract"):
        base = root / stage
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file() and _table_of(path) is not None:
                    yield path


def _table_of(path: Path) -> str | None:
    name = path.name
    if name.endswith(".gz"):
        name = name[:-3]
    parts = name.split(".")
    if len(parts) < 4 or parts[-1] not in ("parquet", "csv", "jsonl", "insert_values"):
        return None
    return parts[0]


def scrub_files(files: Iterable[Path], filters: list[RowFilter], *, dry_run: bool = False):
    """Remove matching rows from each job file; returns what was (or would be) removed."""
    by_table: dict[str, list[RowFilter]] = {}
    for f in filters:
        by_table.setdefault(f.table, []).append(f)
    result = ScrubResult()
    for path in files:
        table = _table_of(path)
        if table not in by_table:
            continue
        removed = _scrub(path, by_table[table], dry_run)
        if removed:
            result.files_rewritten.append(str(path))
            result.rows_removed += removed
    return result


def scrub_pipeline(
    root: Path, filters: list[RowFilter], *, dry_run: bool = False, only_new: bool = False
) -> ScrubResult:
    """Scrub a pipeline's packages; `only_new` skips loaded packages already marked scrubbed
    (the post-load hook), and marks the ones it checked."""
    files = list(package_files(root))
    if only_new:
        files = [p for p in files if not _marked(p, root)]
    result = scrub_files(files, filters, dry_run=dry_run)
    if only_new and not dry_run:
        for package in {_package_of(p, root) for p in files}:
            if package is not None:
                (package / SCRUBBED_MARKER).touch()
    return result


def _package_of(path: Path, root: Path) -> Path | None:
    loaded = root / "load" / "loaded"
    try:
        relative = path.relative_to(loaded)
    except ValueError:
        return None
    return loaded / relative.parts[0]


def _marked(path: Path, root: Path) -> bool:
    package = _package_of(path, root)
    return package is not None and (package / SCRUBBED_MARKER).exists()


def _read_table(kind: str, body: bytes) -> pa.Table:
    """A parquet or CSV load file as Arrow; CSV columns stay text, as dlt wrote them."""
    if kind == "parquet":
        return pq.read_table(io.BytesIO(body))
    table = pacsv.read_csv(
        io.BytesIO(body), convert_options=pacsv.ConvertOptions(strings_can_be_null=False)
    )
    return table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))


def _scrub(path: Path, filters: list[RowFilter], dry_run: bool) -> int:
    raw = path.read_bytes()
    gzipped = raw[:2] == b"\x1f\x8b"
    body = gzip.decompress(raw) if gzipped else raw
    kind = path.name.removesuffix(".gz").rsplit(".", 1)[-1]
    if kind in ("parquet", "csv"):
        kept, removed = _filter_arrow(_read_table(kind, body), filters)
        if removed and not dry_run:
            out = io.BytesIO()
            (pq.write_table if kind == "parquet" else pacsv.write_csv)(kept, out)
            _replace(path, out.getvalue(), gzipped)
        return removed
    if kind == "jsonl":
        lines = body.splitlines(keepends=True)
        kept_lines = [ln for ln in lines if not ln.strip() or not _json_matches(ln, filters)]
        removed = len(lines) - len(kept_lines)
        if removed and not dry_run:
            _replace(path, b"".join(kept_lines), gzipped)
        return removed
    return 0  # insert_values: dlt writes them only for its own state tables here


def _filter_arrow(table: pa.Table, filters: list[RowFilter]) -> tuple[pa.Table, int]:
    drop = None
    for f in filters:
        if f.column not in table.column_names:
            continue
        column = pc.cast(table.column(f.column), pa.string())
        hit = pc.fill_null(pc.is_in(column, value_set=pa.array(sorted(f.values))), False)
        drop = hit if drop is None else pc.or_(drop, hit)
    if drop is None:
        return table, 0
    removed = int(pc.sum(drop).as_py() or 0)
    return (table.filter(pc.invert(drop)) if removed else table), removed


def _json_matches(line: bytes, filters: list[RowFilter]) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and any(
        row.get(f.column) is not None and str(row.get(f.column)) in f.values for f in filters
    )


def _replace(path: Path, body: bytes, gzipped: bool) -> None:
    tmp = path.with_name(path.name + ".privacy_tmp")
    tmp.write_bytes(gzip.compress(body) if gzipped else body)
    os.replace(tmp, path)
