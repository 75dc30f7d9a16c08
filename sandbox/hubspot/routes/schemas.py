"""Custom object schemas: `GET /crm/v3/schemas` and `GET /crm/v3/schemas/{objectType}` (also
under `/crm-object-schemas/v3/`, the path HubSpot's own clients call).

The sandbox portal defines no custom objects (as a portal without Enterprise's custom objects),
so the list is `{"results": []}`, HubSpot's answer for such a portal, and reading one schema is
404. Peer clients list schemas while discovering streams: without this route they fail on a 404
HTML page where HubSpot answers an empty list.
"""

from __future__ import annotations

from flask import Blueprint, Response

from sandbox.hubspot.responses import ApiError, json_response
from sandbox.hubspot.routes.common import add_rules, bool_arg

bp = Blueprint("hubspot_schemas", __name__)
SCHEMA_PREFIXES = ("/crm/v3/schemas", "/crm-object-schemas/v3/schemas")


def list_schemas() -> Response:
    bool_arg("archived")  # accepted as HubSpot does; neither live nor archived schemas exist
    return json_response({"results": []})


def get_schema(schema_type: str) -> Response:
    raise ApiError(
        404, f"Unable to find object type with id or name: {schema_type}", "OBJECT_NOT_FOUND"
    )


add_rules(bp, SCHEMA_PREFIXES, "", list_schemas, ["GET"])
add_rules(bp, SCHEMA_PREFIXES, "/<schema_type>", get_schema, ["GET"])
