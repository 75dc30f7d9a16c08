"""Where peer HubSpot clients found the sandbox was not HubSpot (issue 9, item 6), over real
HTTP: the legacy v2 properties list, custom object schemas, property definitions of object types
the sandbox stores no records of (200, or 403 without the scope), and a top-level `filters`
array in search, which HubSpot ANDs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.common.server import SandboxServer
from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig

PAT = "pat-na1-00000000-0000-0000-0000-000000000000"
AUTH = {"Authorization": f"Bearer {PAT}"}
SMALL = {"contacts": 200, "companies": 20, "deals": 20, "search_per_second": 1000}
CATALOG = ("tickets", "calls", "emails", "meetings", "notes", "tasks", "line_items", "products")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with SandboxServer(create_app(HubSpotSandboxConfig(**SMALL))) as server:
        yield server.base_url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        client.post("/_sandbox/reset", json=SMALL).raise_for_status()
        yield client


def oauth_token(api: httpx.Client, scopes: str) -> dict[str, str]:
    response = api.post(
        "/oauth/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "scope": scopes,
        },
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- legacy v2 properties -------------------------------------------------------------------
@pytest.mark.parametrize("object_type", ["contacts", "companies", "deals", "tickets"])
def test_v2_properties_list_is_a_bare_array_in_the_legacy_shape(
    api: httpx.Client, object_type: str
) -> None:
    response = api.get(f"/properties/v2/{object_type}/properties")
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list) and body
    v3 = {p["name"]: p for p in api.get(f"/crm/v3/properties/{object_type}").json()["results"]}
    assert {p["name"] for p in body} == set(v3)
    for prop in body:
        assert prop["type"] == v3[prop["name"]]["type"]
        assert isinstance(prop["createdAt"], int) and isinstance(prop["updatedAt"], int)
        assert prop["deleted"] is False
        assert prop["hubspotDefined"] in (True, None)
        for key in ("readOnlyValue", "readOnlyDefinition", "mutableDefinitionNotDeletable"):
            assert isinstance(prop[key], bool)
        for option in prop["options"]:
            assert {"label", "value", "displayOrder", "hidden", "readOnly"} <= set(option)


def test_v2_properties_need_auth_and_a_known_type(api: httpx.Client, base_url: str) -> None:
    assert httpx.get(f"{base_url}/properties/v2/contacts/properties").status_code == 401
    assert api.get("/properties/v2/not_a_type/properties").status_code == 400
    named = api.get("/properties/v2/contacts/properties/named/email")
    assert named.status_code == 200 and named.json()["name"] == "email"
    assert api.get("/properties/v2/contacts/properties/named/nope").status_code == 404


def test_v2_properties_leave_out_archived_ones(api: httpx.Client) -> None:
    api.post(
        "/crm/v3/properties/contacts", json={"name": "gone_soon", "type": "string"}
    ).raise_for_status()
    names = {p["name"] for p in api.get("/properties/v2/contacts/properties").json()}
    assert "gone_soon" in names
    assert api.delete("/crm/v3/properties/contacts/gone_soon").status_code == 204
    names = {p["name"] for p in api.get("/properties/v2/contacts/properties").json()}
    assert "gone_soon" not in names


# --- custom object schemas ------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["/crm/v3/schemas", "/crm-object-schemas/v3/schemas"])
def test_schemas_list_is_an_empty_results_page(api: httpx.Client, prefix: str) -> None:
    response = api.get(prefix)
    assert response.status_code == 200, response.text
    assert response.json() == {"results": []}
    missing = api.get(f"{prefix}/2-123456")
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_schemas_need_the_custom_schemas_scope(api: httpx.Client, base_url: str) -> None:
    assert httpx.get(f"{base_url}/crm/v3/schemas").status_code == 401
    without = oauth_token(api, "crm.objects.contacts.read")
    refused = api.get("/crm/v3/schemas", headers=without)
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    granted = oauth_token(api, "crm.schemas.custom.read")
    assert api.get("/crm/v3/schemas", headers=granted).status_code == 200


# --- properties of types without records ----------------------------------------------------
@pytest.mark.parametrize("key", CATALOG + ("0-5", "ticket", "call", "line_item"))
def test_properties_of_every_standard_type_answer_200(api: httpx.Client, key: str) -> None:
    response = api.get(f"/crm/v3/properties/{key}")
    assert response.status_code == 200, response.text
    names = {p["name"] for p in response.json()["results"]}
    assert {"hs_object_id", "hs_lastmodifieddate", "hs_createdate"} <= names
    one = api.get(f"/crm/v3/properties/{key}/hs_object_id")
    assert one.status_code == 200 and one.json()["hubspotDefined"] is True


def test_properties_of_a_type_without_its_scope_are_403(api: httpx.Client) -> None:
    contacts_only = oauth_token(api, "crm.objects.contacts.read")
    assert api.get("/crm/v3/properties/contacts", headers=contacts_only).status_code == 200
    refused = api.get("/crm/v3/properties/calls", headers=contacts_only)
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    calls = oauth_token(api, "crm.schemas.calls.read")
    assert api.get("/crm/v3/properties/calls", headers=calls).status_code == 200


def test_unknown_type_is_still_400(api: httpx.Client) -> None:
    assert api.get("/crm/v3/properties/not_a_type").status_code == 400


# --- top-level search filters ---------------------------------------------------------------
def search(api: httpx.Client, body: dict) -> dict:
    response = api.post("/crm/v3/objects/contacts/search", json={"limit": 200, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_top_level_filters_are_anded(api: httpx.Client) -> None:
    changed = api.post("/_sandbox/mutate", json={"object_type": "contacts", "count": 7}).json()
    since = changed["lastmodified_ms"]
    gte = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
    body = search(api, {"filters": [gte], "properties": ["lastmodifieddate"]})
    assert body["total"] == 7
    assert sorted(r["id"] for r in body["results"]) == sorted(changed["ids"])
    everything = search(api, {})
    assert everything["total"] == 200


def test_top_level_filters_and_with_every_filter_group(api: httpx.Client) -> None:
    changed = api.post("/_sandbox/mutate", json={"object_type": "contacts", "count": 5}).json()
    first = changed["ids"][0]
    gte = {
        "propertyName": "lastmodifieddate",
        "operator": "GTE",
        "value": str(changed["lastmodified_ms"]),
    }
    one_id = {"propertyName": "hs_object_id", "operator": "EQ", "value": first}
    body = search(api, {"filterGroups": [{"filters": [one_id]}], "filters": [gte]})
    assert [r["id"] for r in body["results"]] == [first]
    # OR of groups, each ANDed with the top-level filters: still only changed records
    low = {"propertyName": "hs_object_id", "operator": "LTE", "value": "100"}
    high = {"propertyName": "hs_object_id", "operator": "GT", "value": "100"}
    body = search(
        api, {"filterGroups": [{"filters": [low]}, {"filters": [high]}], "filters": [gte]}
    )
    assert sorted(r["id"] for r in body["results"]) == sorted(changed["ids"])


def test_top_level_filters_are_validated(api: httpx.Client) -> None:
    bad = api.post(
        "/crm/v3/objects/contacts/search",
        json={"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]},
    )
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    assert api.post("/crm/v3/objects/contacts/search", json={"filters": {}}).status_code == 400
    assert api.post("/crm/v3/objects/contacts/search", json={"filters": ["x"]}).status_code == 400
    many = [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 19
    too_many = api.post("/crm/v3/objects/contacts/search", json={"filters": many})
    assert too_many.status_code == 400
