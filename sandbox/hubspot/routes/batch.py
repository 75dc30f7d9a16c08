"""Object batch endpoints: read, create, update, upsert, archive (≤ 100 inputs, 207 semantics)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.render import record_json, requested_names
from sandbox.hubspot.responses import ApiError, json_response
from sandbox.hubspot.routes.common import (
    OBJECT_PREFIXES,
    add_rules,
    bool_arg,
    json_object,
    object_type,
    parse_id,
    state,
)
from sandbox.hubspot.routes.objects import create_record, update_record
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.values import validate_values
from sandbox.hubspot.webhooks import hooks

bp = Blueprint("hubspot_batch", __name__)


def _inputs(st: SandboxState) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "Invalid input JSON: `inputs` is required", "VALIDATION_ERROR")
    if len(inputs) > st.config.batch_max_inputs:
        raise ApiError(
            400,
            f"Batch input size {len(inputs)} exceeds the limit of {st.config.batch_max_inputs}",
            "VALIDATION_ERROR",
            context={"maxInputs": [str(st.config.batch_max_inputs)]},
        )
    return body, [i if isinstance(i, dict) else {} for i in inputs]


def _batch_body(
    st: SandboxState, started: int, results: list[Any], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(st.now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def _not_found_error(otype: ObjectType, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {otype.singular.upper()} objects, they may be deleted "
        "or not exist. Check that ids are valid.",
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }


def batch_read(st: SandboxState, otype: ObjectType) -> Response:
    body, inputs = _inputs(st)
    started = st.now_ms()
    names = requested_names(body.get("properties"), otype, st.properties)
    id_property = body.get("idProperty")
    archived = bool_arg("archived")
    store = st.store(otype)
    results, missing = [], []
    with st.lock:
        for item in inputs:
            raw = str(item.get("id", ""))
            if id_property and id_property != "hs_object_id":
                rid = store.find_by_property(id_property, raw)
            else:
                rid = parse_id(raw)
            row = store.get(rid) if rid is not None else None
            if row is None or row.archived != archived:
                missing.append(raw)
            else:
                results.append(record_json(row, names))
    errors = [_not_found_error(otype, missing)] if missing else []
    return json_response(_batch_body(st, started, results, errors), 207 if errors else 200)


def _trace_ids_unique(inputs: list[dict[str, Any]]) -> bool:
    traces = [i.get("objectWriteTraceId") for i in inputs]
    return all(traces) and len(set(traces)) == len(traces)


def _input_error(message: str, category: str, trace: Any, status: str = "error") -> dict[str, Any]:
    err: dict[str, Any] = {"status": status, "category": category, "message": message}
    if trace:
        err["context"] = {"objectWriteTraceId": [str(trace)]}
    return err


def batch_create(st: SandboxState, otype: ObjectType) -> Response:
    _, inputs = _inputs(st)
    started = st.now_ms()
    multi = _trace_ids_unique(inputs)
    results, errors = [], []
    with st.lock:
        for item in inputs:
            try:
                row = create_record(st, otype, item)
            except ApiError as exc:
                if not multi:
                    raise
                errors.append(
                    _input_error(
                        exc.body["message"], exc.body["category"], item.get("objectWriteTraceId")
                    )
                )
                continue
            names = [
                n
                for n in dict.fromkeys([*otype.default_properties, *(item.get("properties") or {})])
            ]
            out = record_json(row, [n for n in names if st.properties.get(otype, n)])
            if item.get("objectWriteTraceId"):
                out["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(out)
    return json_response(_batch_body(st, started, results, errors), 207 if errors else 201)


def batch_update(st: SandboxState, otype: ObjectType) -> Response:
    _, inputs = _inputs(st)
    started = st.now_ms()
    multi = _trace_ids_unique(inputs)
    store = st.store(otype)
    results, errors, missing = [], [], []
    with st.lock:
        # validate everything first: without trace ids one bad input fails the whole batch
        planned = []
        for item in inputs:
            values, verrs = validate_values(otype, st.properties, item.get("properties"))
            raw = str(item.get("id", ""))
            id_property = item.get("idProperty")
            if id_property and id_property != "hs_object_id":
                rid = store.find_by_property(id_property, raw)
            else:
                rid = parse_id(raw)
            if verrs:
                if not multi:
                    from sandbox.hubspot.values import invalid_values

                    raise invalid_values(verrs)
                errors.append(
                    _input_error(
                        f"Property values were not valid: {verrs}",
                        "VALIDATION_ERROR",
                        item.get("objectWriteTraceId"),
                    )
                )
                continue
            if rid is None or not store.is_live(rid):
                missing.append(raw)
                continue
            planned.append((item, rid, values))
        for item, rid, values in planned:
            row = update_record(st, otype, rid, values)
            out = record_json(row, list(dict.fromkeys([*otype.default_properties, *values])))
            if item.get("objectWriteTraceId"):
                out["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(out)
    if missing:
        errors.append(_not_found_error(otype, missing))
    return json_response(_batch_body(st, started, results, errors), 207 if errors else 200)


def batch_upsert(st: SandboxState, otype: ObjectType) -> Response:
    _, inputs = _inputs(st)
    started = st.now_ms()
    store = st.store(otype)
    results = []
    with st.lock:
        for item in inputs:
            id_property = item.get("idProperty") or "hs_object_id"
            prop = st.properties.get(otype, id_property)
            unique = id_property == "email" and otype.name == "contacts"
            if prop is None or not (unique or prop.has_unique_value):
                raise ApiError(
                    400,
                    f"{id_property} is not a unique property and cannot be used as idProperty",
                    "VALIDATION_ERROR",
                )
            raw = str(item.get("id", ""))
            rid = store.find_by_property(id_property, raw)
            values_raw = dict(item.get("properties") or {})
            if rid is not None:
                row = update_record(st, otype, rid, _validated(st, otype, values_raw))
                new = False
            else:
                if id_property != "hs_object_id":
                    values_raw[id_property] = raw
                row = create_record(st, otype, {"properties": values_raw})
                new = True
            out = record_json(row, list(dict.fromkeys([*otype.default_properties, *values_raw])))
            out["new"] = new
            results.append(out)
    return json_response(_batch_body(st, started, results, []))


def _validated(st: SandboxState, otype: ObjectType, raw: dict[str, Any]) -> dict[str, str | None]:
    from sandbox.hubspot.values import values_or_raise

    return values_or_raise(otype, st.properties, raw)


def batch_archive(st: SandboxState, otype: ObjectType) -> Response:
    _, inputs = _inputs(st)
    with st.lock:
        now = st.now_ms()
        for item in inputs:
            rid = parse_id(item.get("id"))
            if rid is not None:
                hooks.archive(st, otype, rid, now)
    return Response(status=204)


OPS = {
    "read": batch_read,
    "create": batch_create,
    "update": batch_update,
    "upsert": batch_upsert,
    "archive": batch_archive,
}


def batch(object_type_key: str, op: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    handler = OPS.get(op)
    if handler is None:
        raise ApiError(404, f"Unknown batch operation {op}", "OBJECT_NOT_FOUND")
    _ = request
    return handler(st, otype)


add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>/batch/<op>", batch, ["POST"])
