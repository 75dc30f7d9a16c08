"""Asset checks for mapping and dedup assets: each a query against the warehouse (or the run's
own counts) and a pass/fail with the numbers as metadata, so a failure says how bad it is.

Checks only read; they never repair. They run inside the asset that wrote the tables, right
after the write, so they see exactly what that run produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from destinations.warehouse import Warehouse
from mappings.dedup import DedupResult, MatchRules

if TYPE_CHECKING:
    from mappings.engine import MappingRunResult
    from mappings.spec import MappingSpec

# Mapping checks.
REJECTED_RATIO = "rejected_ratio_below_threshold"
MAPPING_ROWS_BALANCE = "rows_in_equal_rows_out"
# warning level: conversion nulled more of a field's non-null inputs than its threshold
NULLED_RATIO = "nulled_ratio_below_threshold"
# Dedup checks.
UNIQUE_GOLDEN_IDS = "unique_golden_ids"
GOLDEN_HAS_MEMBERS = "every_golden_record_has_members"
CROSSWALK_TO_GOLDEN = "crosswalk_points_at_golden_records"
CROSSWALK_TO_SOURCE = "crosswalk_matches_source_records"
DEDUP_ROWS_BALANCE = "rows_in_equal_rows_out"


@dataclass(frozen=True)
class CheckOutcome:
    """A check's verdict before it is tied to an asset key."""

    name: str
    passed: bool
    metadata: dict[str, int | float | str | dg.MetadataValue]
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR

    def result(self, key: dg.AssetKey) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=self.name,
            passed=self.passed,
            metadata=self.metadata,
            severity=self.severity,
        )


def _count(warehouse: Warehouse, sql: str) -> int:
    return int(warehouse.query(sql)[0][0])


def golden_checks(warehouse: Warehouse, rules: MatchRules) -> list[CheckOutcome]:
    """Checks on the golden table: ids unique, and no golden record without a member."""
    golden, crosswalk = rules.golden, rules.crosswalk
    duplicates = _count(warehouse, f"SELECT COUNT(*) - COUNT(DISTINCT golden_id) FROM {golden}")
    nulls = _count(warehouse, f"SELECT COUNT(*) FROM {golden} WHERE golden_id IS NULL")
    orphans = _count(
        warehouse,
        f"SELECT COUNT(*) FROM {golden} g WHERE NOT EXISTS "
        f"(SELECT 1 FROM {crosswalk} x WHERE x.golden_id = g.golden_id)",
    )
    return [
        CheckOutcome(
            UNIQUE_GOLDEN_IDS,
            duplicates == 0 and nulls == 0,
            {"duplicate_golden_ids": duplicates, "null_golden_ids": nulls},
        ),
        CheckOutcome(GOLDEN_HAS_MEMBERS, orphans == 0, {"golden_without_members": orphans}),
    ]


def crosswalk_checks(
    warehouse: Warehouse, rules: MatchRules, result: DedupResult
) -> list[CheckOutcome]:
    """Checks on the crosswalk: it points at golden records and at source records, both ways,
    and the run's counts balance."""
    golden, crosswalk, source = rules.golden, rules.crosswalk, rules.source
    dangling_golden = _count(
        warehouse,
        f"SELECT COUNT(*) FROM {crosswalk} x WHERE NOT EXISTS "
        f"(SELECT 1 FROM {golden} g WHERE g.golden_id = x.golden_id)",
    )
    member = (
        "{a}._source = {b}._source AND {a}._source_id = {b}._source_id AND "
        "COALESCE({a}._source_integration, '') = COALESCE({b}._source_integration, '')"
    )
    dangling_source = _count(
        warehouse,
        f"SELECT COUNT(*) FROM {crosswalk} x WHERE NOT EXISTS (SELECT 1 FROM {source} s "
        f"WHERE {member.format(a='s', b='x')})",
    )
    missing = _count(
        warehouse,
        f"SELECT COUNT(*) FROM {source} s WHERE NOT EXISTS (SELECT 1 FROM {crosswalk} x "
        f"WHERE {member.format(a='s', b='x')})",
    )
    repeated = _count(
        warehouse,
        f"SELECT COUNT(*) FROM (SELECT _source, _source_integration, _source_id "
        f"FROM {crosswalk} GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d",
    )
    balanced = (
        result.rows_in == result.crosswalk_rows + result.duplicate_rows
        and result.golden_rows == result.clusters
    )
    return [
        CheckOutcome(
            CROSSWALK_TO_GOLDEN,
            dangling_golden == 0,
            {"crosswalk_rows_without_golden": dangling_golden},
        ),
        CheckOutcome(
            CROSSWALK_TO_SOURCE,
            dangling_source == 0 and missing == 0 and repeated == 0,
            {
                "crosswalk_rows_without_source_record": dangling_source,
                "source_records_without_crosswalk_row": missing,
                "source_records_in_crosswalk_twice": repeated,
            },
        ),
        CheckOutcome(
            DEDUP_ROWS_BALANCE,
            balanced,
            {
                "rows_in": result.rows_in,
                "crosswalk_rows": result.crosswalk_rows,
                "duplicate_source_rows": result.duplicate_rows,
                "clusters": result.clusters,
                "golden_rows": result.golden_rows,
            },
        ),
    ]


def nulled_check(result: MappingRunResult, spec: MappingSpec) -> CheckOutcome:
    """Warning level: no field's conversion nulled more of its non-null inputs (in the rows
    written) than its threshold (`max_nulled_ratio` of the field, else of the mapping's
    settings, default 0.05). The metadata holds every counted field's numbers."""
    by_column = {
        name: {
            "nulled": result.nulled_by_field.get(name, 0),
            "inputs": result.inputs_by_field.get(name, 0),
            "ratio": round(result.nulled_ratio(name), 6),
            "max_ratio": spec.max_nulled_ratio(name),
            "on_error": spec.fields[name].on_error,
        }
        for name in spec.nulling_fields()
    }
    over = sorted(name for name, c in by_column.items() if c["ratio"] > c["max_ratio"])
    metadata: dict[str, int | float | str | dg.MetadataValue] = {
        "values_nulled": result.values_nulled,
        "columns_over_threshold": ", ".join(over) or "none",
        "nulled_by_column": dg.MetadataValue.json(by_column),
    }
    return CheckOutcome(NULLED_RATIO, not over, metadata, dg.AssetCheckSeverity.WARN)


def mapping_checks(
    result: MappingRunResult, max_rejected_ratio: float, spec: MappingSpec | None = None
) -> list[CheckOutcome]:
    """The rejected share is under its threshold, and every row in is accounted for; with the
    spec, also the (warning-level) share of values nulled by conversion per field."""
    ratio = result.rows_quarantined / result.rows_in if result.rows_in else 0.0
    accounted = (
        result.rows_out + result.rows_quarantined + result.rows_deduplicated + result.rows_filtered
    )
    return [
        CheckOutcome(
            REJECTED_RATIO,
            ratio <= max_rejected_ratio,
            {
                "rejected_ratio": round(ratio, 6),
                "max_rejected_ratio": max_rejected_ratio,
                "rows_quarantined": result.rows_quarantined,
                "rows_in": result.rows_in,
            },
        ),
        CheckOutcome(
            MAPPING_ROWS_BALANCE,
            result.rows_in == accounted,
            {
                "rows_in": result.rows_in,
                "rows_out": result.rows_out,
                "rows_quarantined": result.rows_quarantined,
                "rows_deduplicated": result.rows_deduplicated,
                "rows_filtered": result.rows_filtered,
            },
        ),
        *([nulled_check(result, spec)] if spec is not None else []),
    ]
