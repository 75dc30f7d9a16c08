"""Properties API: list, read, create, update and archive property definitions (v3 and
date-versioned paths), and the legacy `GET /properties/v{1,2}/{type}/properties[/named/{name}]`
reads in their own shape. Any standard HubSpot type answers, records stored or not."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.responses import ApiError, json_response
from sandbox.hubspot.routes.common import (
    PROPERTY_PREFIXES,
    add_rules,
    bool_arg,
    json_object,
    property_object_type,
    state,
)
from sandbox.hubspot.schema import PropertyDef
from sandbox.hubspot.state import SandboxState

bp = Blueprint("hubspot_properties", __name__)
TYPES = {"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"}


def list_properties(object_type_key: str) -> Response:
    st = state()
    otype = property_object_type(object_type_key)
    archived = bool_arg("archived")
    props = st.properties.by_type[otype.name].values()
    return json_response({"results": [p.to_json() for p in props if p.archived == archived]})


def get_property(object_type_key: str, name: str) -> Response:
    st = state()
    otype = property_object_type(object_type_key)
    prop = st.properties.by_type[otype.name].get(name)
    if prop is None or prop.archived != bool_arg("archived"):
        raise ApiError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
    return json_response(prop.to_json())


def create_property_def(st: SandboxState, otype: ObjectType, body: dict[str, Any]) -> PropertyDef:
    """Validate and register a custom property (caller holds the lock)."""
    name = str(body.get("name") or "")
    ptype = str(body.get("type") or "string")
    if not name or ptype not in TYPES:
        raise ApiError(400, "name and a valid type are required", "VALIDATION_ERROR")
    existing = st.properties.by_type[otype.name].get(name)
    if existing is not None and not existing.archived:
        raise ApiError(409, f"A property named '{name}' already exists.", "CONFLICT")
    options = tuple(str(o.get("value")) for o in body.get("options") or [])
    now = st.now_ms()
    prop = PropertyDef(
        name=name,
        label=str(body.get("label") or name),
        type=ptype,
        field_type=str(body.get("fieldType") or "text"),
        group_name=str(body.get("groupName") or f"{otype.singular}information"),
        options=options,
        description=str(body.get("description") or ""),
        display_order=int(body.get("displayOrder", -1)),
        created_ms=now,
        updated_ms=now,
        has_unique_value=bool(body.get("hasUniqueValue", False)),
    )
    st.properties.add(otype, prop)
    return prop


def create_property(object_type_key: str) -> Response:
    st = state()
    otype = property_object_type(object_type_key)
    body = json_object()
    with st.lock:
        prop = create_property_def(st, otype, body)
    return json_response(prop.to_json(), 201)


def update_property(object_type_key: str, name: str) -> Response:
    st = state()
    otype = property_object_type(object_type_key)
    body = json_object()
    with st.lock:
        prop = st.properties.get(otype, name)
        if prop is None:
            raise ApiError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        if prop.hubspot_defined:
            raise ApiError(400, f"{name} is a HubSpot defined property", "VALIDATION_ERROR")
        prop.label = str(body.get("label", prop.label))
        prop.description = str(body.get("description", prop.description))
        if "options" in body:
            prop.options = tuple(str(o.get("value")) for o in body["options"] or [])
        prop.updated_ms = st.now_ms()
    return json_response(prop.to_json())


def archive_property(object_type_key: str, name: str) -> Response:
    st = state()
    otype = property_object_type(object_type_key)
    with st.lock:
        prop = st.properties.get(otype, name)
        if prop is None:
            raise ApiError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        if prop.hubspot_defined:
            raise ApiError(400, f"{name} is a HubSpot defined property", "VALIDATION_ERROR")
        prop.archived = True
        prop.archived_ms = st.now_ms()
    return Response(status=204)


def list_properties_legacy(object_type_key: str) -> Response:
    """Legacy list: a bare JSON array of live definitions."""
    otype = property_object_type(object_type_key)
    props = state().properties.live(otype).values()
    return json_response([p.to_v2_json() for p in props])


def get_property_legacy(object_type_key: str, name: str) -> Response:
    prop = state().properties.get(property_object_type(object_type_key), name)
    if prop is None:
        raise ApiError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
    return json_response(prop.to_v2_json())


LEGACY_PREFIXES = ("/properties/v1", "/properties/v2")
add_rules(bp, LEGACY_PREFIXES, "/<object_type_key>/properties", list_properties_legacy, ["GET"])
add_rules(
    bp, LEGACY_PREFIXES, "/<object_type_key>/properties/named/<name>", get_property_legacy, ["GET"]
)
add_rules(bp, PROPERTY_PREFIXES, "/<object_type_key>", list_properties, ["GET"])
add_rules(bp, PROPERTY_PREFIXES, "/<object_type_key>", create_property, ["POST"])
add_rules(bp, PROPERTY_PREFIXES, "/<object_type_key>/<name>", get_property, ["GET"])
add_rules(bp, PROPERTY_PREFIXES, "/<object_type_key>/<name>", update_property, ["PATCH"])
add_rules(bp, PROPERTY_PREFIXES, "/<object_type_key>/<name>", archive_property, ["DELETE"])
