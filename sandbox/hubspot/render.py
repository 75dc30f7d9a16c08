"""Rendering records as HubSpot's `SimplePublicObject[WithAssociations]` JSON shape."""

from __future__ import annotations

from typing import Any

from flask import Request

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.associations import V3_NAMES, AssociationGraph
from sandbox.hubspot.objtypes import ObjectType, resolve
from sandbox.hubspot.schema import PropertyRegistry
from sandbox.hubspot.store import Row


def requested_names(
    values: list[str] | None, otype: ObjectType, registry: PropertyRegistry
) -> list[str]:
    """Known property names from a `properties` parameter (unknown ones silently dropped)."""
    if not values:
        return list(otype.default_properties)
    known = registry.by_type[otype.name]
    out: list[str] = []
    seen: set[str] = set()
    for item in values:
        for name in str(item).split(","):
            name = name.strip()
            prop = known.get(name)
            if prop is not None and not prop.archived and name not in seen:
                seen.add(name)
                out.append(name)
    return out


def query_list(request: Request, key: str) -> list[str]:
    """A query parameter given repeated and/or comma-separated."""
    out: list[str] = []
    for raw in request.args.getlist(key):
        out.extend(p for p in raw.split(",") if p)
    return out


def record_json(row: Row, names: list[str]) -> dict[str, Any]:
    props = row.props
    body: dict[str, Any] = {
        "id": str(row.id),
        "properties": {n: props.get(n) for n in names},
        "createdAt": iso_ms(row.created_ms),
        "updatedAt": iso_ms(row.updated_ms),
        "archived": row.archived,
    }
    if row.archived and row.archived_ms is not None:
        body["archivedAt"] = iso_ms(row.archived_ms)
    return body


def inline_associations(
    graph: AssociationGraph,
    otype: ObjectType,
    record_id: int,
    to_types: list[str],
    is_live: Any,
) -> dict[str, Any]:
    """v3 inline `associations` block: {companies: {results: [{id, type}]}}; empty ones omitted."""
    out: dict[str, Any] = {}
    for key in to_types:
        to = resolve(key)
        if to is None:
            continue
        results = []
        for tid, specs in sorted(graph.links(otype.name, record_id, to.name).items()):
            if not is_live(to, tid):
                continue
            for category, type_id in sorted(specs, key=lambda s: s[1]):
                name = V3_NAMES.get(type_id) if category == "HUBSPOT_DEFINED" else None
                results.append({"id": str(tid), "type": name or str(type_id)})
        if results:
            out[to.name] = {"results": results}
    return out
