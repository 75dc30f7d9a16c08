"""Materialization metadata read from the warehouse: a table's column schema as Dagster's
`TableSchema`, so the UI shows the columns an asset really wrote."""

from __future__ import annotations

import dagster as dg

from destinations.warehouse import Warehouse


def table_schema(warehouse: Warehouse, qualified: str) -> dg.TableSchema:
    schema, table = qualified.split(".", 1)
    rows = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}' ORDER BY ordinal_position"
    )
    return dg.TableSchema(columns=[dg.TableColumn(name=str(n), type=str(t)) for n, t in rows])
