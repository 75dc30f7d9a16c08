"""`POST /crm/v3/objects/{type}/search` (and date-versioned): HubSpot's CRM search API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from sandbox.hubspot.render import record_json, requested_names
from sandbox.hubspot.responses import json_response
from sandbox.hubspot.routes.admin import edit_records
from sandbox.hubspot.routes.common import (
    OBJECT_PREFIXES,
    add_rules,
    json_object,
    object_type,
    state,
)
from sandbox.hubspot.search import SearchEngine, parse_query

bp = Blueprint("hubspot_search", __name__)


def search_objects(object_type_key: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    body = json_object()
    names = requested_names(body.get("properties"), otype, st.properties)
    q = parse_query(body, otype, st.properties, st.config, names)
    with st.lock:
        edits = st.search_faults.before_search(otype.name)
        if edits:  # the armed "edit while paging" fault: records saved before this page
            edit_records(st, otype, edits)
        total, rows = SearchEngine(st.store(otype), st.now_ms()).run(q)
        st.search_faults.after_search(otype.name, [row.id for row in rows])
        results = [record_json(row, names) for row in rows]
    out: dict[str, Any] = {"total": total, "results": results}
    if q.after + q.limit < total and q.limit > 0:
        out["paging"] = {"next": {"after": str(q.after + q.limit)}}
    return json_response(out)


add_rules(bp, OBJECT_PREFIXES, "/<object_type_key>/search", search_objects, ["POST"])
