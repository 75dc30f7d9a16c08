"""Turn pages of HubSpot records into Arrow tables (the fast load path, DESIGN decision 2).

Columns follow dlt's naming for nested data (`properties__email`) so mappings can address
`properties.email`; property values stay strings as HubSpot sends them (typing is the mapping
layer's job), while id, timestamps and the archived flag get real types here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

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


# -- list pages decoded straight into Arrow (the full-sync fast path) ----------------------------
#
# A full sync is bounded by one Python process: the GIL. pyarrow's JSON reader parses a raw page
# in C++ with the GIL released, so the thread fetching pages hands the next request out while
# the previous page is still being parsed, and the records never become Python objects at all:
# the columns, the association pairs and the modification times are built with Arrow compute.

_ASSOCIATION_ITEM = pa.struct([("id", pa.string()), ("type", pa.string())])
_PAGING = pa.struct([("next", pa.struct([("after", pa.string())]))])
_MIN_BLOCK = 1 << 16


def list_record_type(
    property_names: Sequence[str], association_types: Sequence[str]
) -> pa.StructType:
    """The shape of one list-endpoint record, restricted to what the sync keeps."""
    fields = [
        ("id", pa.string()),
        ("createdAt", pa.string()),
        ("updatedAt", pa.string()),
        ("archived", pa.bool_()),
        ("archivedAt", pa.string()),
    ]
    if property_names:
        fields.append(("properties", pa.struct([(n, pa.string()) for n in property_names])))
    if association_types:
        block = pa.struct([("results", pa.list_(_ASSOCIATION_ITEM))])
        fields.append(("associations", pa.struct([(t, block) for t in association_types])))
    return pa.struct(fields)


@dataclass(frozen=True)
class ListPage:
    """One list page: its records as an Arrow struct array, and the cursor of the next page."""

    records: pa.StructArray
    after: str | None

    def __len__(self) -> int:
        return len(self.records)


def _child(array: pa.StructArray, name: str) -> pa.Array:
    """A struct field with the parent's nulls applied (`.field()` alone ignores them); only
    a parent that has nulls pays for flattening all its fields."""
    if not array.null_count:
        return array.field(name)
    return array.flatten()[array.type.get_field_index(name)]


class ListPageDecoder:
    """Raw list-page bytes -> `ListPage`, parsed by pyarrow's JSON reader (GIL released).

    A page the reader cannot type (a number where HubSpot promises a string, say) is decoded
    with orjson and coerced like `records_to_table` does, so both roads give the same rows.
    A body that is not JSON raises `orjson.JSONDecodeError` (the HTTP client refetches it);
    a body without a results list gives None (the caller's malformed-page error).
    """

    def __init__(self, property_names: Sequence[str], association_types: Sequence[str]) -> None:
        self.property_names = list(property_names)
        self.association_types = list(association_types)
        self.record_type = list_record_type(self.property_names, self.association_types)
        schema = pa.schema([("results", pa.list_(self.record_type)), ("paging", _PAGING)])
        self._parse = pj.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=True
        )

    def __call__(self, content: bytes) -> ListPage | None:
        try:
            table = pj.read_json(
                io.BytesIO(content),
                read_options=pj.ReadOptions(
                    use_threads=False, block_size=max(len(content) + 1, _MIN_BLOCK)
                ),
                parse_options=self._parse,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = None
        if table is None or table.num_rows != 1:
            return self.from_body(orjson.loads(content))
        results = table.column("results").combine_chunks()
        if results.null_count:
            return self.from_body(orjson.loads(content))
        records = results.flatten()
        if records.null_count or records.field("id").null_count:
            return self.from_body(orjson.loads(content))
        after = pc.struct_field(table.column("paging"), ["next", "after"])[0].as_py()
        return ListPage(records, after or None)

    def decode_many(self, contents: Sequence[bytes]) -> list[ListPage] | None:
        """Several pages parsed by one reader call (a call costs ~0.4 ms before the first byte:
        ten pages together parse in ~40% of the time of ten calls), or None when any of them
        needs the one-page road (which also knows how to refuse or coerce it)."""
        joined = b"\n".join(contents)
        try:
            table = pj.read_json(
                io.BytesIO(joined),
                read_options=pj.ReadOptions(
                    use_threads=False, block_size=max(len(joined) + 1, _MIN_BLOCK)
                ),
                parse_options=self._parse,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        if table.num_rows != len(contents):
            return None
        results = table.column("results").combine_chunks()
        if results.null_count:
            return None
        records = results.flatten()
        if records.null_count or records.field("id").null_count:
            return None
        afters = pc.struct_field(table.column("paging"), ["next", "after"]).to_pylist()
        offsets = results.offsets.to_pylist()  # `records` starts at the first offset
        return [
            ListPage(records.slice(start - offsets[0], end - start), after or None)
            for start, end, after in zip(offsets[:-1], offsets[1:], afters, strict=True)
        ]

    def from_body(self, body: Any) -> ListPage | None:
        """A page already decoded to Python (or one the Arrow reader refused)."""
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return None
        records = [self._coerce(r) for r in body["results"]]
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        return ListPage(pa.array(records, self.record_type), str(after) if after else None)

    def _coerce(self, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: record.get(k) for k in ("createdAt", "updatedAt", "archivedAt")}
        out["id"] = str(record["id"])
        out["archived"] = bool(record.get("archived"))
        props = record.get("properties") or {}
        out["properties"] = {k: None if v is None else str(v) for k, v in props.items()}
        blocks = record.get("associations") or {}
        out["associations"] = {
            t: {
                "results": [
                    {"id": str(i["id"]), "type": None if i.get("type") is None else str(i["type"])}
                    for i in (blocks.get(t) or {}).get("results") or []
                ]
            }
            for t in self.association_types
        }
        return out


def _records(pages: pa.StructArray | Sequence[pa.StructArray]) -> pa.StructArray:
    """Decoded list pages as one struct array (a batch concatenates its pages once)."""
    return pages if isinstance(pages, pa.StructArray) else pa.concat_arrays(list(pages))


def peek_after(content: bytes) -> tuple[bool, str | None]:
    """(found, cursor): the next page's cursor read from the top-level `paging` key alone, so
    the next request can leave before this page is parsed. Found only when the text from the
    last `"paging"` to the end is exactly one JSON object's remaining member: a `"paging"`
    inside a record (or in a string, where its quotes are escaped) leaves unbalanced brackets
    behind it and does not parse. Not found (no paging key: the last page, or any doubt):
    decode the whole page to learn it."""
    at = content.rfind(b'"paging"')
    if at < 0:
        return False, None
    try:
        tail = orjson.loads(b"{" + content[at:])
    except orjson.JSONDecodeError:
        return False, None
    paging = tail.get("paging") if isinstance(tail, dict) else None
    if len(tail) != 1 or not isinstance(paging, dict):
        return False, None
    nxt = paging.get("next")
    after = nxt.get("after") if isinstance(nxt, dict) else None
    if not isinstance(after, str | int | None):
        return False, None
    return True, str(after) if after else None


def list_pages_table(
    pages: pa.StructArray | Sequence[pa.StructArray],
    property_names: Sequence[str],
    *,
    extracted_at_ms: int,
) -> pa.Table:
    """The entity table of decoded list pages: same columns and types as `records_to_table`."""
    records = _records(pages)
    columns: dict[str, pa.Array] = {
        "id": records.field("id"),
        "created_at": records.field("createdAt").cast(TIMESTAMP),
        "updated_at": records.field("updatedAt").cast(TIMESTAMP),
        "archived": pc.fill_null(records.field("archived"), False),
        "archived_at": records.field("archivedAt").cast(TIMESTAMP),
    }
    if property_names:
        props = records.field("properties")
        for name, child in zip(property_names, props.flatten(), strict=True):
            columns[property_column(name)] = child
    columns["_extracted_at"] = pa.repeat(pa.scalar(extracted_at_ms * 1000, TIMESTAMP), len(records))
    return _entity_table(columns)


def list_association_table(
    pages: pa.StructArray | Sequence[pa.StructArray], spec: AssociationSpec
) -> pa.Table:
    """Inline association pairs of decoded pages, as `inline_association_rows` makes them: one
    row per (record, target), with every non-empty type name it carries, sorted, `;`-joined."""
    records = _records(pages)
    lists = _child(_child(_child(records, "associations"), spec.to_object_type), "results")
    items = lists.flatten()
    pairs = pa.table(
        {
            "f": records.field("id").take(pc.list_parent_indices(lists)),
            "t": items.field("id"),
            "y": pc.if_else(pc.equal(items.field("type"), ""), None, items.field("type")),
        }
    ).filter(pc.is_valid(items.field("id")))
    grouped = (
        pairs.sort_by([("f", "ascending"), ("t", "ascending"), ("y", "ascending")])
        .group_by(["f", "t"], use_threads=False)
        .aggregate([("y", "distinct")])
    )
    return pa.Table.from_arrays(
        [grouped["f"], grouped["t"], pc.binary_join(grouped["y_distinct"], ";")],
        schema=association_schema(spec),
    )


def linkless_ids(page: pa.StructArray, spec: AssociationSpec) -> list[str]:
    """Ids of the page's records that carry no link of this kind."""
    lists = _child(_child(_child(page, "associations"), spec.to_object_type), "results")
    empty = pc.fill_null(pc.equal(pc.list_value_length(lists), 0), True)
    return page.field("id").filter(empty).to_pylist()


def lastmod_ms_array(page: pa.StructArray, prop: str) -> pa.Array:
    """Each record's modification time in epoch ms, exactly as `client.lastmod_ms` computes it
    (the property, else `updatedAt`; the same float arithmetic, so bookmarks compare equal)."""
    updated = page.field("updatedAt")
    value = updated
    props_index = page.type.get_field_index("properties")
    if props_index >= 0 and page.type.field(props_index).type.get_field_index(prop) >= 0:
        own = _child(_child(page, "properties"), prop)
        value = pc.coalesce(pc.if_else(pc.equal(own, ""), None, own), updated)
    try:
        micros = value.cast(TIMESTAMP).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        from sources.hubspot.client import iso_ms

        return pa.array([iso_ms(v) for v in value.to_pylist()], pa.int64())
    seconds = pc.divide(micros.cast(pa.float64()), 1_000_000.0)
    return pc.fill_null(pc.trunc(pc.multiply(seconds, 1000.0)).cast(pa.int64()), 0)


def recent_lastmod_ms(records: pa.StructArray, prop: str, floor_ms: int) -> dict[str, int]:
    """{id: modification ms} of the records modified at or after `floor_ms`, and of the newest
    record: all that `CursorState.advance` keeps from a read (its boundary and its cursor), so a
    full read hands it this instead of one Python pair per record (200k ids and times cost the
    consuming thread ~1 ms of GIL a page; this is a few Arrow kernels a batch)."""
    if not len(records):
        return {}
    times = lastmod_ms_array(records, prop)
    ids = records.field("id")
    keep = pc.greater_equal(times, floor_ms)
    out = dict(zip(ids.filter(keep).to_pylist(), times.filter(keep).to_pylist(), strict=True))
    newest = pc.index(times, pc.max(times)).as_py()
    out.setdefault(ids[newest].as_py(), times[newest].as_py())
    return out
