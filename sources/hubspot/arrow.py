"""Turn pages of HubSpot records into Arrow tables (the fast load path, DESIGN decision 2).

Columns follow dlt's naming for nested data (`properties__email`) so mappings can address
`properties.email`; property values stay strings as HubSpot sends them (typing is the mapping
layer's job), while id, timestamps and the archived flag get real types here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sources.hubspot.entities import AssociationSpec

TIMESTAMP = pa.timestamp("us", tz="UTC")
# Ids and association keys are never null: saying so in the Arrow schema keeps it equal to the
# dlt hints (primary and merge keys are NOT NULL there), so dlt has nothing to reconcile.
ID_FIELD = pa.field("id", pa.string(), nullable=False)


def property_column(name: str) -> str:
    return f"properties__{name}"


def records_to_table(
    records: Sequence[dict[str, Any]], property_names: Sequence[str], *, extracted_at_ms: int
) -> pa.Table:
    """One Arrow table for a batch of records, one column per requested property.

    Properties go through one StructArray conversion (C++ walks the dicts), which is about
    twice as fast as a Python list per column.
    """
    n = len(records)
    columns: dict[str, pa.Array] = {
        "id": pa.array([r["id"] for r in records], pa.string()),
        "created_at": pa.array([r.get("createdAt") for r in records], pa.string()).cast(TIMESTAMP),
        "updated_at": pa.array([r.get("updatedAt") for r in records], pa.string()).cast(TIMESTAMP),
        "archived": pa.array([bool(r.get("archived")) for r in records], pa.bool_()),
        "archived_at": pa.array([r.get("archivedAt") for r in records], pa.string()).cast(
            TIMESTAMP
        ),
    }
    if property_names:
        struct_type = pa.struct([(name, pa.string()) for name in property_names])
        values = [r.get("properties") or {} for r in records]
        try:
            props = pa.array(values, struct_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A provider sent a non-string value: coerce like HubSpot's own string contract.
            values = [{k: None if v is None else str(v) for k, v in p.items()} for p in values]
            props = pa.array(values, struct_type)
        for name, child in zip(property_names, props.flatten(), strict=True):
            columns[property_column(name)] = child
    columns["_extracted_at"] = pa.array([extracted_at_ms * 1000] * n, pa.int64()).cast(TIMESTAMP)
    return _entity_table(columns)


def _entity_table(columns: dict[str, pa.Array]) -> pa.Table:
    """The entity table with `id` declared NOT NULL, like its primary-key hint."""
    fields = [ID_FIELD if name == "id" else pa.field(name, a.type) for name, a in columns.items()]
    return pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))


def inline_association_rows(
    records: Sequence[dict[str, Any]], spec: AssociationSpec
) -> list[dict[str, str]]:
    """Association pairs carried inline by list reads (`associations=companies`).

    HubSpot lists a primary link twice (`contact_to_company` and `..._unlabeled`): one row per
    pair, with every type name it carries.
    """
    rows = []
    for record in records:
        block = (record.get("associations") or {}).get(spec.to_object_type) or {}
        types: dict[str, set[str]] = {}
        for item in block.get("results") or []:
            types.setdefault(str(item["id"]), set()).add(str(item.get("type") or ""))
        for to_id, names in types.items():
            rows.append(
                {
                    spec.from_column: record["id"],
                    spec.to_column: to_id,
                    "association_type": ";".join(sorted(n for n in names if n)),
                }
            )
    return rows


def v4_association_rows(
    by_id: dict[str, list[dict[str, Any]]], spec: AssociationSpec
) -> list[dict[str, str]]:
    """Association pairs from a v4 batch read (`{toObjectId, associationTypes}` per target)."""
    rows = []
    for from_id, targets in by_id.items():
        for target in targets:
            labels = [
                t.get("label") or f"{t.get('category')}:{t.get('typeId')}"
                for t in target.get("associationTypes") or []
            ]
            rows.append(
                {
                    spec.from_column: from_id,
                    spec.to_column: str(target["toObjectId"]),
                    "association_type": ";".join(labels),
                }
            )
    return rows


def association_schema(spec: AssociationSpec) -> pa.Schema:
    """Both keys NOT NULL, as `association_hints` declares them."""
    return pa.schema(
        [
            pa.field(spec.from_column, pa.string(), nullable=False),
            pa.field(spec.to_column, pa.string(), nullable=False),
            pa.field("association_type", pa.string()),
        ]
    )


def association_table(rows: list[dict[str, str]], spec: AssociationSpec) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array([r[spec.from_column] for r in rows], pa.string()),
            pa.array([r[spec.to_column] for r in rows], pa.string()),
            pa.array([r["association_type"] for r in rows], pa.string()),
        ],
        schema=association_schema(spec),
    )
