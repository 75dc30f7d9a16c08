"""Associations v4: list per record, create/delete (default and labelled), batch, labels."""

from __future__ import annotations

from itertools import islice
from typing import Any

from flask import Blueprint, Response, request

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.associations import HUBSPOT_DEFINED, TYPE_IDS, AssociationGraph
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.responses import ApiError, json_response, not_found
from sandbox.hubspot.routes.common import (
    decode_cursor,
    encode_cursor,
    int_arg,
    json_body,
    json_object,
    object_type,
    parse_id,
    state,
)
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.webhooks import hooks

bp = Blueprint("hubspot_associations", __name__, url_prefix="/crm/v4")


def _types(
    graph: AssociationGraph, frm: ObjectType, to: ObjectType, specs: set[tuple[str, int]]
) -> list[dict[str, Any]]:
    return [
        {"category": c, "typeId": t, "label": graph.label_of(frm.name, to.name, (c, t))}
        for c, t in sorted(specs, key=lambda s: s[1])
    ]


def _live_links(
    st: SandboxState, frm: ObjectType, rid: int, to: ObjectType
) -> list[tuple[int, set[tuple[str, int]]]]:
    store = st.store(to)
    return [
        (tid, specs)
        for tid, specs in sorted(st.graph.links(frm.name, rid, to.name).items())
        if store.is_live(tid)
    ]


@bp.get("/objects/<from_type>/<from_id>/associations/<to_type>")
def list_associations(from_type: str, from_id: str, to_type: str) -> Response:
    st = state()
    frm, to = object_type(from_type), object_type(to_type)
    rid = parse_id(from_id)
    limit = min(max(int_arg("limit", 500), 1), 500)
    after = request.args.get("after")
    start = decode_cursor(after) if after else 0
    with st.lock:
        if rid is None or not st.store(frm).is_live(rid):
            raise not_found()
        links = [(t, s) for t, s in _live_links(st, frm, rid, to) if t >= start]
    page = list(islice(links, limit + 1))
    body: dict[str, Any] = {
        "results": [
            {"toObjectId": tid, "associationTypes": _types(st.graph, frm, to, specs)}
            for tid, specs in page[:limit]
        ]
    }
    if len(page) > limit:
        cursor = encode_cursor(page[limit][0])
        body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return json_response(body)


def _check_pair(
    st: SandboxState, frm: ObjectType, fid: Any, to: ObjectType, tid: Any
) -> tuple[int, int]:
    a, b = parse_id(fid), parse_id(tid)
    if a is None or b is None or not st.store(frm).is_live(a) or not st.store(to).is_live(b):
        raise not_found("One or more objects to associate were not found")
    return a, b


def _specs(st: SandboxState, frm: ObjectType, to: ObjectType, raw: Any) -> set[tuple[str, int]]:
    specs = set()
    for item in raw or []:
        spec = (
            str(item.get("associationCategory", HUBSPOT_DEFINED)),
            int(item.get("associationTypeId", 0)),
        )
        if not st.graph.known_type(frm.name, to.name, spec):
            raise ApiError(
                400, f"Invalid association type {spec[0]}/{spec[1]} for {frm.name} to {to.name}"
            )
        specs.add(spec)
    if not specs:
        raise ApiError(400, "At least one association type is required")
    return specs


def _default_spec(frm: ObjectType, to: ObjectType) -> set[tuple[str, int]]:
    if (frm.name, to.name) not in TYPE_IDS:
        raise ApiError(400, f"No default association from {frm.name} to {to.name}")
    return {(HUBSPOT_DEFINED, TYPE_IDS[(frm.name, to.name)][0])}


@bp.put("/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>")
def put_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    st = state()
    frm, to = object_type(from_type), object_type(to_type)
    with st.lock:
        a, b = _check_pair(st, frm, from_id, to, to_id)
        hooks.add_association(st, frm, a, to, b, _default_spec(frm, to))
    now = iso_ms(st.now_ms())
    return json_response(
        {
            "status": "COMPLETE",
            "results": [
                {
                    "from": {"id": str(a)},
                    "to": {"id": str(b)},
                    "associationSpec": {
                        "associationCategory": HUBSPOT_DEFINED,
                        "associationTypeId": TYPE_IDS[(frm.name, to.name)][0],
                    },
                }
            ],
            "startedAt": now,
            "completedAt": now,
        }
    )


@bp.route(
    "/objects/<from_type>/<from_id>/associations/<to_type>/<to_id>", methods=["PUT", "DELETE"]
)
def put_or_delete(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    st = state()
    frm, to = object_type(from_type), object_type(to_type)
    with st.lock:
        a, b = _check_pair(st, frm, from_id, to, to_id)
        if request.method == "DELETE":
            hooks.remove_association(st, frm, a, to, b)
            return Response(status=204)
        specs = _specs(st, frm, to, json_body())
        hooks.add_association(st, frm, a, to, b, specs)
        labels = [st.graph.label_of(frm.name, to.name, s) for s in specs]
    return json_response(
        {
            "fromObjectTypeId": frm.type_id,
            "fromObjectId": a,
            "toObjectTypeId": to.type_id,
            "toObjectId": b,
            "labels": [label for label in labels if label],
        },
        201,
    )


def _batch_inputs(st: SandboxState, limit: int) -> list[dict[str, Any]]:
    body = json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "Invalid input JSON: `inputs` is required")
    if len(inputs) > limit:
        raise ApiError(400, f"Batch input size {len(inputs)} exceeds the limit of {limit}")
    return inputs


@bp.post("/associations/<from_type>/<to_type>/batch/<op>")
@bp.post("/associations/<from_type>/<to_type>/batch/associate/<op>")
@bp.post("/associations/<from_type>/<to_type>/batch/labels/<op>")
def batch_op(from_type: str, to_type: str, op: str) -> Response:
    st = state()
    frm, to = object_type(from_type), object_type(to_type)
    started = iso_ms(st.now_ms())
    path = request.path
    if op == "read":
        inputs = _batch_inputs(st, st.config.association_batch_read_max)
        results, missing = [], []
        with st.lock:
            for item in inputs:
                rid = parse_id(item.get("id"))
                if rid is None or not st.store(frm).is_live(rid):
                    missing.append(str(item.get("id")))
                    continue
                links = _live_links(st, frm, rid, to)
                if not links:
                    missing.append(str(rid))
                    continue
                results.append(
                    {
                        "from": {"id": str(rid)},
                        "to": [
                            {
                                "toObjectId": tid,
                                "associationTypes": _types(st.graph, frm, to, specs),
                            }
                            for tid, specs in links
                        ],
                    }
                )
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(st.now_ms()),
        }
        if missing:
            body["numErrors"] = len(missing)
            body["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {to.singular} is associated with {frm.singular} {m}.",
                    "context": {"fromObjectId": [m]},
                }
                for m in missing
            ]
        return json_response(body, 207 if missing else 200)
    inputs = _batch_inputs(st, st.config.association_batch_create_max)
    with st.lock:
        results = []
        for item in inputs:
            a, b = _check_pair(
                st, frm, (item.get("from") or {}).get("id"), to, (item.get("to") or {}).get("id")
            )
            if op == "create" or (op == "default" and "/associate/" in path):
                specs = (
                    _specs(st, frm, to, item.get("types"))
                    if op == "create"
                    else _default_spec(frm, to)
                )
                hooks.add_association(st, frm, a, to, b, specs)
                results.append(
                    {
                        "fromObjectTypeId": frm.type_id,
                        "fromObjectId": a,
                        "toObjectTypeId": to.type_id,
                        "toObjectId": b,
                        "labels": [],
                    }
                )
            elif op == "archive":
                hooks.remove_association(st, frm, a, to, b)
            else:
                raise ApiError(404, f"Unknown batch operation {op}", "OBJECT_NOT_FOUND")
    if op == "archive":
        return Response(status=204)
    return json_response(
        {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(st.now_ms()),
        },
        201,
    )


@bp.route("/associations/<from_type>/<to_type>/labels", methods=["GET", "POST"])
def labels(from_type: str, to_type: str) -> Response:
    st = state()
    frm, to = object_type(from_type), object_type(to_type)
    if request.method == "POST":
        body = json_object()
        with st.lock:
            type_id = st.graph.create_label(
                frm.name, to.name, str(body.get("label") or body.get("name"))
            )
        return json_response(
            {
                "results": [
                    {"category": "USER_DEFINED", "typeId": type_id, "label": body.get("label")}
                ]
            }
        )
    return json_response({"results": st.graph.all_labels(frm.name, to.name)})
