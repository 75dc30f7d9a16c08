"""Materialization metadata: a table's column schema read from the warehouse as Dagster's
`TableSchema`, so the UI shows the columns an asset really wrote, and a mapping run's values
nulled by conversion per column."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from destinations.warehouse import Warehouse

if TYPE_CHECKING:
    from mappings.engine import MappingRunResult


def nulled_metadata(result: MappingRunResult) -> dict[str, int | float | dg.MetadataValue]:
    """Values nulled by conversion: the total, one `nulled/<column>` count and one
    `nulled_ratio/<column>` share (of the column's non-null inputs) per counted column (flat
    numbers, so the UI plots them across materializations), and all of it as one JSON table."""
    metadata: dict[str, int | float | dg.MetadataValue] = {
        "values_nulled": result.values_nulled,
        "quarantine_warnings": result.quarantine_warnings,
    }
    by_column = {}
    for name, nulled in result.nulled_by_field.items():
        ratio = round(result.nulled_ratio(name), 6)
        metadata[f"nulled/{name}"] = nulled
        metadata[f"nulled_ratio/{name}"] = ratio
        by_column[name] = {
            "nulled": nulled,
            "inputs": result.inputs_by_field.get(name, 0),
            "ratio": ratio,
        }
    metadata["nulled_by_column"] = dg.MetadataValue.json(by_column)
    return metadata


def table_schema(warehouse: Warehouse, qualified: str) -> dg.TableSchema:
    schema, table = qualified.split(".", 1)
    rows = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}' ORDER BY ordinal_position"
    )
    return dg.TableSchema(columns=[dg.TableColumn(name=str(n), type=str(t)) for n, t in rows])
