"""Object endpoints: list, read, create, update and archive single records (v3 + date-versioned)."""

from __future__ import annotations

from itertools import islice
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from sandbox.hubspot.associations import HUBSPOT_DEFINED, TYPE_IDS, USER_DEFINED
from sandbox.hubspot.objtypes import ALL_TYPES, ObjectType
from sandbox.hubspot.render import inline_associations, query_list, record_json, requested_names
from sandbox.hubspot.responses import ApiError, json_response, not_found
from sandbox.hubspot.routes.common import (
    OBJECT_PREFIXES,
    add_rules,
    bool_arg,
    decode_cursor,
    encode_cursor,
    int_arg,
    json_object,
    object_type,
    parse_id,
    state,
)
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.store import Row
from sandbox.hubspot.values import values_or_raise
from sandbox.hubspot.webhooks import hooks
from sandbox.hubspot.webhooks.events import ChangeOrigin

bp = Blueprint("hubspot_objects", __name__)


def _is_live(st: SandboxState) -> Any:
    return lambda otype, rid: st.store(otype).is_live(rid)


def render_rows(
    st: SandboxState, otype: ObjectType, rows: list[Row], names: list[str], assoc: list[str]
) -> list[dict[str, Any]]:
    out = []
    live = _is_live(st)
    for row in rows:
        item = record_json(row, names)
        if assoc:
            links = inline_associations(st.graph, otype, row.id, assoc, live)
            if links:
                item["associations"] = links
        out.append(item)
    return out


def list_objects(object_type_key: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    limit = int_arg("limit", 10)
    if limit < 1 or limit > st.config.page_size_max:
        raise ApiError(
            400,
            f"limit must be between 1 and {st.config.page_size_max}, got {limit}",
            "VALIDATION_ERROR",
        )
    after = request.args.get("after")
    start_id = decode_cursor(after) if after else 0
    archived = bool_arg("archived")
    names = requested_names(query_list(request, "properties"), otype, st.properties)
    assoc = query_list(request, "associations")
    store = st.store(otype)
    with st.lock:
        ids_iter = store.iter_archived_ids(start_id) if archived else store.iter_live_ids(start_id)
        ids = list(islice(ids_iter, limit + 1))
        rows = [store.get(rid) for rid in ids[:limit]]
        results = render_rows(st, otype, [r for r in rows if r is not None], names, assoc)
    body: dict[str, Any] = {"results": results}
    if len(ids) > limit:
        cursor = encode_cursor(ids[limit - 1] + 1)
        body["paging"] = {"next": {"after": cursor, "link": f"?after={quote(cursor)}"}}
    return json_response(body)


def resolve_record(
    st: SandboxState, otype: ObjectType, raw_id: str, id_property: str | None
) -> int | None:
    store = st.store(otype)
    if id_property and id_property != "hs_object_id":
        return store.find_by_property(id_property, raw_id)
    return parse_id(raw_id)


def read_object(object_type_key: str, record_id: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    archived = bool_arg("archived")
    names = requested_names(query_list(request, "properties"), otype, st.properties)
    assoc = query_list(request, "associations")
    with st.lock:
        rid = resolve_record(st, otype, record_id, request.args.get("idProperty"))
        row = st.store(otype).get(rid) if rid is not None else None
        if row is None or row.archived != archived:
            raise not_found()
        item = render_rows(st, otype, [row], names, assoc)[0]
    return json_response(item)


def parse_create_associations(
    st: SandboxState, otype: ObjectType, raw: Any
) -> list[tuple[ObjectType, int, tuple[str, int]]]:
    """[{to:{id}, types:[{associationCategory, associationTypeId}]}] → (to type, id, spec)."""
    out: list[tuple[ObjectType, int, tuple[str, int]]] = []
    for item in raw or []:
        to_id = parse_id((item.get("to") or {}).get("id"))
        for t in item.get("types") or []:
            category = t.get("associationCategory", HUBSPOT_DEFINED)
            type_id = t.get("associationTypeId")
            target = None
            for to in ALL_TYPES:
                pair = (otype.name, to.name)
                if (
                    category == HUBSPOT_DEFINED
                    and type_id in TYPE_IDS.get(pair, ())
                    or category == USER_DEFINED
                    and type_id in st.graph.labels.get(pair, {})
                ):
                    target = to
            if target is None or to_id is None or not st.store(target).is_live(to_id):
                raise ApiError(
                    400,
                    f"Invalid association: to {to_id} with type {category}/{type_id}",
                    "VALIDATION_ERROR",
                )
            out.append((target, to_id, (category, int(type_id))))
    return out


def create_record(
    st: SandboxState, otype: ObjectType, body: dict[str, Any], origin: ChangeOrigin | None = None
) -> Row:
    """Validate and create one record (caller holds the lock) and report it to the webhook
    sender; `origin` None means a write by this app through the API. Raises ApiError."""
    values = values_or_raise(otype, st.properties, body.get("properties"))
    store = st.store(otype)
    if otype.name == "contacts" and values.get("email"):
        existing = store.find_by_email(str(values["email"]))
        if existing is not None:
            raise ApiError(409, f"Contact already exists. Existing ID: {existing}", "CONFLICT")
    links = parse_create_associations(st, otype, body.get("associations"))
    now = st.now_ms()
    row = store.create(values, now, st.visible_ms(now))
    hooks.on_created(st, otype, row, values, origin)
    for to, to_id, spec in links:
        hooks.add_association(st, otype, row.id, to, to_id, {spec}, origin)
    return row


def create_object(object_type_key: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    body = json_object()
    with st.lock:
        row = create_record(st, otype, body)
    names = list(dict.fromkeys([*otype.default_properties, *(body.get("properties") or {})]))
    names = [n for n in names if st.properties.get(otype, n) is not None]
    return json_response(record_json(row, names), 201)


def update_record(
    st: SandboxState,
    otype: ObjectType,
    rid: int,
    values: dict[str, str | None],
    origin: ChangeOrigin | None = None,
) -> Row:
    """Apply values to a live record (caller holds the lock); changed values fire
    propertyChange events. Raises ApiError on a duplicate email."""
    store = st.store(otype)
    if otype.name == "contacts" and values.get("email"):
        existing = store.find_by_email(str(values["email"]))
        if existing is not None and existing != rid:
            raise ApiError(409, f"Contact already exists. Existing ID: {existing}", "CONFLICT")
    now = st.now_ms()
    before = store.get(rid) if st.webhooks.active else None
    row = store.update(rid, values, now, st.visible_ms(now))
    if before is not None:
        hooks.on_updated(st, otype, before, row, values, origin)
    return row


def update_object(object_type_key: str, record_id: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    body = json_object()
    with st.lock:
        values = values_or_raise(otype, st.properties, body.get("properties"))
        rid = resolve_record(st, otype, record_id, request.args.get("idProperty"))
        if rid is None or not st.store(otype).is_live(rid):
            raise not_found()
        row = update_record(st, otype, rid, values)
    names = list(dict.fromkeys([*otype.default_properties, *values]))
    return json_response(record_json(row, names))


def archive_object(object_type_key: str, record_id: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    rid = parse_id(record_id)
    with st.lock:
        if rid is not None:
            hooks.archive(st, otype, rid, st.now_ms())
    return Response(status=204)


add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>", list_objects, ["GET"])
add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>", create_object, ["POST"])
add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>/<record_id>", read_object, ["GET"])
add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>/<record_id>", update_object, ["PATCH"])
add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>/<record_id>", archive_object, ["DELETE"])
