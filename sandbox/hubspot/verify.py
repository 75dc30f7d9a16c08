"""Compare what a warehouse holds with the sandbox's own truth (ids and property values).

Used by integration tests, benchmarks and the demo to prove "the warehouse ends equal to the
provider", not merely "some rows were loaded". Read-only on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from dlt.common.normalizers.naming.snake_case import NamingConvention

PROPERTY_PREFIX = "properties__"
_naming = NamingConvention()


def property_column(name: str) -> str:
    """The warehouse column dlt makes of a HubSpot property name."""
    return _naming.normalize_path(PROPERTY_PREFIX + name)


@dataclass
class TruthDiff:
    missing_ids: list[str] = field(default_factory=list)
    extra_ids: list[str] = field(default_factory=list)
    mismatches: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    duplicate_ids: int = 0
    compared: int = 0

    @property
    def equal(self) -> bool:
        return not (self.missing_ids or self.extra_ids or self.mismatches or self.duplicate_ids)

    def summary(self) -> str:
        return (
            f"compared {self.compared}: {len(self.missing_ids)} missing, {len(self.extra_ids)} "
            f"extra, {len(self.mismatches)} value mismatches, {self.duplicate_ids} duplicate ids"
            + (f"; first mismatch {self.mismatches[0]}" if self.mismatches else "")
        )


def truth_records(base_url: str, object_type: str, *, archived: bool) -> Iterator[dict[str, Any]]:
    """The sandbox's records of one type, live or archived, streamed from its truth endpoint
    (one JSON record a line, so millions never sit in memory at once)."""
    with httpx.stream(
        "GET",
        f"{base_url}/_sandbox/truth/{object_type}",
        params={"archived": "true" if archived else "false"},
        timeout=300,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.strip():
                yield orjson.loads(line)


def sandbox_truth(base_url: str, object_type: str) -> dict[str, dict[str, Any]]:
    """Every record the sandbox holds now (live and archived), by id."""
    return {
        str(record["id"]): record
        for archived in (False, True)
        for record in truth_records(base_url, object_type, archived=archived)
    }


def warehouse_rows(conn: Any, table: str) -> tuple[dict[str, dict[str, Any]], int]:
    """(rows by id, number of duplicate ids) from a DB-API connection to the warehouse."""
    cur = conn.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    rows: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        if row["id"] in rows:
            duplicates += 1
        rows[row["id"]] = row
    return rows, duplicates


def compare(truth: dict[str, dict[str, Any]], conn: Any, table: str) -> TruthDiff:
    rows, duplicates = warehouse_rows(conn, table)
    diff = TruthDiff(duplicate_ids=duplicates)
    for record_id, record in truth.items():
        row = rows.get(record_id)
        if row is None:
            diff.missing_ids.append(record_id)
            continue
        diff.compared += 1
        if bool(row.get("archived")) != bool(record.get("archived")):
            diff.mismatches.append((record_id, "archived", record.get("archived"), row["archived"]))
        for name, expected in (record.get("properties") or {}).items():
            column = property_column(name)
            if column not in row:
                diff.mismatches.append((record_id, name, expected, "<no column>"))
            elif row[column] != expected:
                diff.mismatches.append((record_id, name, expected, row[column]))
    diff.extra_ids = sorted(set(rows) - set(truth))
    return diff
